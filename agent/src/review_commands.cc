#include "review_commands.h"

#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "mash/agent/config.h"
#include "mash/agent/review_queue.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"

namespace mash::agent {

struct ReviewCommands {
  CLI::App* review = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* release = nullptr;
  CLI::App* redact = nullptr;
  CLI::App* decline = nullptr;
  CLI::App* log = nullptr;
  std::string config_path;
  int64_t id = 0;
  bool all = false;
  std::string category;
  std::vector<std::string> fields;
  std::string reason;
  std::string by;
  int limit = 50;
};

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitConfig = 2;

// Record content and free text come from systems and people: no control characters reach the
// terminal.
std::string Safe(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out.empty() ? "-" : out;
}

std::string LoginName() {
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  return "";
}

std::string Time(int64_t unix_seconds) {
  return unix_seconds == 0
             ? "-"
             : common::FormatRfc3339(common::TimePoint(std::chrono::seconds(unix_seconds)));
}

size_t Pending(const ReviewItem& item) {
  return static_cast<size_t>(std::count_if(item.categories.begin(), item.categories.end(),
                                           [](const auto& c) { return c.decision.empty(); }));
}

void PrintList(const std::vector<ReviewItem>& items, std::ostream& out) {
  if (items.empty()) {
    out << "no review items waiting\n";
    return;
  }
  out << "ID  STATUS  CREATED  URGENCY  PURPOSE  CHECK  CATEGORIES (pending/all)\n";
  for (const auto& i : items) {
    std::vector<std::string> names;
    for (const auto& c : i.categories) names.push_back(c.category);
    out << i.id << "  " << Safe(ReviewStatusText(i)) << "  " << Time(i.created_at) << "  "
        << Safe(i.urgency) << "  " << Safe(i.purpose) << "  " << Safe(i.check_ref) << "  "
        << Pending(i) << "/" << i.categories.size() << " " << Safe(Join(names)) << "\n";
  }
}

void PrintPerson(const nlohmann::json& p, std::ostream& out) {
  if (!p.is_object()) {
    out << "subject     - (cleared once the hub confirmed the answer)\n";
    return;
  }
  const auto text = [&](const char* key) {
    const auto it = p.find(key);
    return it != p.end() && it->is_string() ? Safe(it->get<std::string>()) : std::string("-");
  };
  out << "subject     " << text("given_names") << " " << text("family_name") << ", born "
      << text("dob") << ", sex " << text("sex") << "\n";
  if (const auto it = p.find("aliases"); it != p.end() && it->is_array()) {
    out << "  aliases   " << Safe(it->dump()) << "\n";
  }
  if (const auto it = p.find("postcodes"); it != p.end() && it->is_array()) {
    out << "  postcodes " << Safe(it->dump()) << "\n";
  }
  if (const auto it = p.find("identifiers"); it != p.end() && it->is_object()) {
    for (const auto& [kind, value] : it->items()) {
      out << "  " << Safe(kind) << "  " << Safe(value.is_string() ? value.get<std::string>() : "")
          << "\n";
    }
  }
}

void PrintItem(const ReviewItem& i, std::ostream& out) {
  out << "review item " << i.id << " (" << i.status << ")\n"
      << "created     " << Time(i.created_at) << "\n"
      << "check       " << Safe(i.check_ref) << "\n"
      << "query       " << Safe(i.query_id) << "\n"
      << "purpose     " << Safe(i.purpose) << "\n"
      << "lawful      " << Safe(i.lawful_basis) << "\n"
      << "consent     " << Safe(i.consent) << "\n"
      << "urgency     " << Safe(i.urgency) << "\n"
      << "level asked " << i.level << "\n"
      << "match       " << Safe(i.match) << " on " << Safe(Join(i.matched_on)) << "\n"
      << "policy      " << Safe(i.policy_version) << "\n";
  if (i.chased_at != 0) {
    out << "chased      " << Time(i.chased_at) << " by the hub: due " << Safe(i.chase_deadline)
        << "\n";
  }
  PrintPerson(i.subject, out);
  for (const auto& c : i.categories) {
    out << "\ncategory " << Safe(c.category) << "\n"
        << "  why       " << c.why << " (rule " << Safe(c.rule) << ")\n"
        << "  level     " << c.level << " granted: nothing above it can be released\n"
        << "  redacted  " << Safe(Join(c.redacted)) << " (by the policy)\n";
    if (c.decision.empty()) {
      out << "  decision  pending\n";
    } else {
      out << "  decision  " << c.decision << " by " << Safe(c.decided_by) << " at "
          << Time(c.decided_at);
      if (!c.extra_redacted.empty()) out << ", also redacted " << Safe(Join(c.extra_redacted));
      if (!c.reason.empty()) out << ": " << Safe(c.reason);
      out << "\n";
    }
    if (const auto it = c.content.find("summary"); it != c.content.end() && it->is_string()) {
      out << "  summary   " << Safe(it->get<std::string>()) << "\n";
    }
    if (const auto it = c.content.find("latest"); it != c.content.end() && it->is_string()) {
      out << "  latest    " << Safe(it->get<std::string>()) << "\n";
    }
    if (const auto it = c.content.find("records"); it != c.content.end() && it->is_array()) {
      for (const auto& r : *it) out << "  record    " << Safe(r.dump()) << "\n";
    }
  }
}

std::vector<std::string> SplitFields(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const auto& g : given) {
    std::stringstream in(g);
    for (std::string f; std::getline(in, f, ',');) {
      f.erase(0, f.find_first_not_of(' '));
      f.erase(f.find_last_not_of(' ') + 1);
      if (!f.empty()) out.push_back(f);
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<ReviewCommands> AddReviewCommands(CLI::App& app) {
  auto c = std::make_shared<ReviewCommands>();
  c->review = app.add_subcommand(
      "review", "the custodian's review queue: list, show, release, redact, decline, log");
  c->review->require_subcommand(1);
  const auto with_config = [&](CLI::App* sub) {
    sub->add_option("--config", c->config_path, "agent.toml")->required();
    return sub;
  };
  const auto with_by = [&](CLI::App* sub) {
    sub->add_option("--by", c->by, "who decides (default: the login name)");
    return sub;
  };
  c->list = with_config(c->review->add_subcommand("list", "review items waiting for a decision"));
  c->list->add_flag("--all", c->all, "every item, decided and sent ones too");
  c->show = with_config(c->review->add_subcommand(
      "show", "one item: the query, the subject, each category with what would be released"));
  c->show->add_option("id", c->id, "review item")->required();
  c->release = with_by(with_config(c->review->add_subcommand(
      "release", "release a category (or every pending one) as the policy would")));
  c->release->add_option("id", c->id, "review item")->required();
  c->release->add_option("--category", c->category, "only this category");
  c->release->add_option("--note", c->reason, "a note for the disclosure log");
  c->redact = with_by(with_config(
      c->review->add_subcommand("redact", "release a category with more fields removed")));
  c->redact->add_option("id", c->id, "review item")->required();
  c->redact->add_option("--category", c->category, "the category")->required();
  c->redact
      ->add_option("--fields", c->fields,
                   "record fields to remove, comma-separated (also: summary, latest)")
      ->required();
  c->redact->add_option("--note", c->reason, "a note for the disclosure log");
  c->decline = with_by(with_config(c->review->add_subcommand(
      "decline", "withhold a category; the reason is recorded and sent to the hub")));
  c->decline->add_option("id", c->id, "review item")->required();
  c->decline->add_option("--category", c->category, "the category")->required();
  c->decline->add_option("--reason", c->reason, "why (sent to the hub with the answer)")
      ->required();
  c->log = with_config(c->review->add_subcommand("log", "custodian decisions, newest first"));
  c->log->add_option("--limit", c->limit, "at most this many")->check(CLI::Range(1, 10000));
  return c;
}

bool ReviewSelected(const ReviewCommands& c) { return c.review != nullptr && c.review->parsed(); }

int RunReviewCommand(const ReviewCommands& c) {
  auto config = LoadAgentConfig(c.config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitConfig;
  }
  common::LogOptions log = config->log;
  log.to_stderr = true;
  log.file.reset();
  common::InitLogging(log);

  storage::DatabaseOptions options;
  options.file = config->database;
  options.key_file = config->database_key;
  options.create_if_missing = false;
  auto db = storage::Database::Open(options);
  if (!db.ok()) {
    std::cerr << c.config_path << ": " << db.status().ToString() << "\n";
    return kExitConfig;
  }
  auto queue = ReviewQueue::Create(db->get());
  if (!queue.ok()) {
    std::cerr << c.config_path << ": " << queue.status().ToString() << "\n";
    return kExitConfig;
  }
  const auto fail = [](const Status& s) {
    std::cerr << "review: " << s.message() << "\n";
    const bool refused =
        s.code() == StatusCode::kNotFound || s.code() == StatusCode::kFailedPrecondition ||
        s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kAlreadyExists;
    return refused ? kExitRefused : kExitConfig;
  };

  if (c.list->parsed()) {
    auto items = (*queue)->List(c.all);
    if (!items.ok()) return fail(items.status());
    PrintList(*items, std::cout);
    return kExitOk;
  }
  if (c.show->parsed()) {
    auto item = (*queue)->Get(c.id);
    if (!item.ok()) return fail(item.status());
    PrintItem(*item, std::cout);
    return kExitOk;
  }
  if (c.log->parsed()) {
    auto rows = (*queue)->Decisions(c.limit);
    if (!rows.ok()) return fail(rows.status());
    for (const auto& r : *rows) std::cout << Safe(r.dump()) << "\n";
    return kExitOk;
  }
  ReviewDecision d;
  d.category = c.category;
  d.reason = c.reason;
  d.by = c.by.empty() ? LoginName() : c.by;
  if (c.redact->parsed()) {
    d.kind = ReviewDecision::Kind::kRedact;
    d.fields = SplitFields(c.fields);
  } else if (c.decline->parsed()) {
    d.kind = ReviewDecision::Kind::kDecline;
  }
  common::SystemClock clock;
  auto item = (*queue)->Decide(c.id, d, clock.NowUnix());
  if (!item.ok()) return fail(item.status());
  std::cout << "review item " << item->id << ": " << ReviewDecisionName(d.kind) << " "
            << (d.category.empty() ? "every pending category" : Safe(d.category)) << " by "
            << Safe(d.by) << "; " << Pending(*item) << " category(ies) still pending"
            << (item->status == "decided" ? "; the agent sends the answer when connected" : "")
            << "\n";
  return kExitOk;
}

}  // namespace mash::agent
