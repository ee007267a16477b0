#include "mash/agent/review_queue.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "mash/agent/disclosure.h"
#include "mash/common/log.h"

namespace mash::agent {
namespace {

// SQLCipher 3.4.1 (SQLite 3.15): no UPSERT or RETURNING.
constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS review_items ("
    "  id INTEGER PRIMARY KEY,"
    "  created_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  check_ref TEXT NOT NULL,"
    "  query_id TEXT NOT NULL UNIQUE,"
    "  purpose TEXT NOT NULL,"
    "  lawful_basis TEXT NOT NULL,"
    "  consent TEXT NOT NULL,"
    "  urgency TEXT NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  match TEXT NOT NULL,"
    "  matched_on TEXT NOT NULL,"
    "  policy_version TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  answer_ids TEXT NOT NULL DEFAULT '',"
    "  sent_at INTEGER NOT NULL DEFAULT 0,"
    "  chased_at INTEGER NOT NULL DEFAULT 0,"
    "  chase_deadline TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS review_items_status ON review_items (status);"
    "CREATE TABLE IF NOT EXISTS review_categories ("
    "  item_id INTEGER NOT NULL,"
    "  category TEXT NOT NULL,"
    "  why TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  redacted TEXT NOT NULL,"
    "  content TEXT NOT NULL,"
    "  decision TEXT NOT NULL DEFAULT '',"
    "  extra_redacted TEXT NOT NULL DEFAULT '[]',"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  decided_by TEXT NOT NULL DEFAULT '',"
    "  decided_at INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (item_id, category)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS custodian_decisions ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  item_id INTEGER NOT NULL,"
    "  check_ref TEXT NOT NULL,"
    "  query_id TEXT NOT NULL,"
    "  category TEXT NOT NULL,"
    "  decision TEXT NOT NULL,"
    "  fields TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  decided_by TEXT NOT NULL,"
    "  policy_version TEXT NOT NULL);";

constexpr std::string_view kItemColumns =
    "id, created_at, status, check_ref, query_id, purpose, lawful_basis, consent, urgency, level, "
    "match, matched_on, policy_version, source, subject, answer_ids, sent_at, chased_at, "
    "chase_deadline";

// Columns added after the first release, with their definitions, for databases made before
// (ALTER TABLE ADD COLUMN: SQLite 3.15 has nothing else, and needs a constant default).
constexpr std::pair<std::string_view, std::string_view> kAddedItemColumns[] = {
    {"chased_at", "INTEGER NOT NULL DEFAULT 0"},
    {"chase_deadline", "TEXT NOT NULL DEFAULT ''"},
};

constexpr std::string_view kRedactPrefix = "redact:";
// answer-body.schema.json and review-pending-body limits.
constexpr size_t kMaxReasonBytes = 1000;
constexpr size_t kMaxFieldNameBytes = 64;
constexpr size_t kMaxCustodianReasonBytes = 800;

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

nlohmann::json ParseStored(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> StringList(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<std::string> SplitIds(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string id; in >> id;) out.push_back(id);
  return out;
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out += " ";
    out += id;
  }
  return out;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Clamp(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

bool FlatRecords(const nlohmann::json& records) {
  return records.is_array() && std::all_of(records.begin(), records.end(), [](const auto& r) {
           return r.is_object() && std::none_of(r.begin(), r.end(), [](const auto& v) {
                    return v.is_object() || v.is_array();
                  });
         });
}

ReviewItem ReadItem(const storage::Statement& s) {
  ReviewItem i;
  i.id = s.ColumnInt(0);
  i.created_at = s.ColumnInt(1);
  i.status = s.ColumnText(2);
  i.check_ref = s.ColumnText(3);
  i.query_id = s.ColumnText(4);
  i.purpose = s.ColumnText(5);
  i.lawful_basis = s.ColumnText(6);
  i.consent = s.ColumnText(7);
  i.urgency = s.ColumnText(8);
  i.level = static_cast<int>(s.ColumnInt(9));
  i.match = s.ColumnText(10);
  i.matched_on = StringList(ParseStored(s.ColumnText(11)));
  i.policy_version = s.ColumnText(12);
  i.source = s.ColumnText(13);
  const std::string subject = s.ColumnText(14);
  if (!subject.empty()) i.subject = ParseStored(subject);
  i.answer_ids = SplitIds(s.ColumnText(15));
  i.sent_at = s.ColumnInt(16);
  i.chased_at = s.ColumnInt(17);
  i.chase_deadline = s.ColumnText(18);
  return i;
}

}  // namespace

std::string_view ReviewDecisionName(ReviewDecision::Kind kind) {
  switch (kind) {
    case ReviewDecision::Kind::kRelease:
      return "released";
    case ReviewDecision::Kind::kRedact:
      return "redacted";
    case ReviewDecision::Kind::kDecline:
      return "declined";
  }
  return "unknown";
}

ReviewCategory PendingReview(const policy::Policy& policy, const policy::Decision& decision,
                             const std::string& category, const CategoryRecords& held,
                             bool possible) {
  ReviewCategory r;
  r.category = category;
  r.rule = DecidingRule(decision);
  r.level = std::max(0, decision.level);
  // The most specific reason first (the engine also attaches custodian_review to a
  // never_without_custodian category).
  if (Has(policy.never_without_custodian, category)) {
    r.why = "never_without_custodian";
  } else if (Has(decision.obligations, "second_approver")) {
    r.why = "second_approver";
  } else if (Has(decision.obligations, "custodian_review")) {
    r.why = "custodian_review";
  } else if (possible) {
    r.why = "possible_match";
  } else {
    r.why = "records_need_review";
  }
  for (const auto& o : decision.obligations) {
    if (o.rfind(kRedactPrefix, 0) == 0) r.redacted.push_back(o.substr(kRedactPrefix.size()));
  }
  // The same content the policy's automatic release would carry at this level.
  if (r.level >= 1 && !held.summary.empty()) r.content["summary"] = held.summary;
  if (r.level >= 2 && !held.latest.empty()) r.content["latest"] = held.latest;
  if (r.level >= 3 && FlatRecords(held.records) && !held.records.empty()) {
    nlohmann::json records = held.records;
    for (auto& record : records) {
      for (const auto& field : r.redacted) record.erase(field);
    }
    r.content["records"] = std::move(records);
  }
  return r;
}

schemas::AnswerBody FollowUpBody(const ReviewItem& item) {
  schemas::AnswerBody a;
  a.query_id = item.query_id;
  a.held = true;
  a.match = item.match.empty() ? "confirmed" : item.match;
  a.matched_on = item.matched_on;
  a.policy_version = item.policy_version;
  a.source = item.source;
  for (const auto& c : item.categories) {
    if (c.decision.empty()) continue;
    schemas::CategoryAnswer out;
    out.category = c.category;
    out.rule = c.rule;
    if (c.decision == "declined") {
      out.outcome = "withheld";
      out.reason = Clamp("declined by the agency's custodian: " + c.reason, kMaxReasonBytes);
      a.categories.push_back(std::move(out));
      continue;
    }
    const auto text = [&](const char* key) {
      const auto it = c.content.find(key);
      return it != c.content.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    // Never more than the granted level, whatever the stored content holds.
    out.level = c.level;
    if (c.level >= 1 && !Has(c.extra_redacted, "summary")) out.summary = text("summary");
    if (c.level >= 2 && !Has(c.extra_redacted, "latest")) out.latest = text("latest");
    if (c.level >= 3) {
      const auto it = c.content.find("records");
      if (it != c.content.end() && FlatRecords(*it)) {
        out.records = *it;
        for (auto& record : out.records) {
          for (const auto& field : c.redacted) record.erase(field);
          for (const auto& field : c.extra_redacted) record.erase(field);
        }
      }
    }
    out.redacted = c.redacted;
    for (const auto& f : c.extra_redacted) {
      if (!Has(out.redacted, f)) out.redacted.push_back(f);
    }
    out.outcome = out.redacted.empty() ? "shared" : "redacted";
    out.reason = c.decision == "redacted" ? "released by the agency's custodian with redactions"
                                          : "released by the agency's custodian";
    a.categories.push_back(std::move(out));
  }
  return a;
}

Result<std::unique_ptr<ReviewQueue>> ReviewQueue::Create(storage::Database* db) {
  if (db == nullptr) return InvalidArgument("review queue: no database");
  Status s = db->Exec(kSchema);
  if (!s.ok()) return s.WithContext("review queue: creating tables");
  // A review_items table made by an earlier version gets the new columns. In one BEGIN
  // IMMEDIATE transaction: the agent and `mash-agent review` may open the database together,
  // and only one of them may add a column.
  s = db->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(storage::Statement info, db->Prepare("PRAGMA table_info(review_items)"));
    std::vector<std::string> have;
    while (true) {
      MASH_ASSIGN_OR_RETURN(bool row, info.Step());
      if (!row) break;
      have.push_back(info.ColumnText(1));
    }
    for (const auto& [name, definition] : kAddedItemColumns) {
      if (Has(have, name)) continue;
      MASH_RETURN_IF_ERROR(db->Exec("ALTER TABLE review_items ADD COLUMN " + std::string(name) +
                                    " " + std::string(definition)));
      common::LogInfo("review.migrated", {{"column", name}});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("review queue: adding columns");
  return std::unique_ptr<ReviewQueue>(new ReviewQueue(db));
}

Result<int64_t> ReviewQueue::Add(const ReviewItem& item) {
  int64_t id = 0;
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("INSERT INTO review_items (created_at, status, check_ref, query_id, purpose, "
                     "lawful_basis, consent, urgency, level, match, matched_on, policy_version, "
                     "source, subject) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(1, item.created_at)
        .Bind(2, item.check_ref)
        .Bind(3, item.query_id)
        .Bind(4, item.purpose)
        .Bind(5, item.lawful_basis)
        .Bind(6, item.consent)
        .Bind(7, item.urgency)
        .Bind(8, static_cast<int64_t>(item.level))
        .Bind(9, item.match)
        .Bind(10, nlohmann::json(item.matched_on).dump())
        .Bind(11, item.policy_version)
        .Bind(12, item.source)
        .Bind(13, item.subject.is_null() ? std::string() : item.subject.dump());
    MASH_RETURN_IF_ERROR(s.Run());
    id = db_->LastInsertRowId();
    for (const auto& c : item.categories) {
      MASH_ASSIGN_OR_RETURN(
          storage::Statement cs,
          db_->Prepare("INSERT INTO review_categories (item_id, category, why, rule, level, "
                       "redacted, content) VALUES (?, ?, ?, ?, ?, ?, ?)"));
      cs.Bind(1, id)
          .Bind(2, c.category)
          .Bind(3, c.why)
          .Bind(4, c.rule)
          .Bind(5, static_cast<int64_t>(c.level))
          .Bind(6, nlohmann::json(c.redacted).dump())
          .Bind(7, c.content.dump());
      MASH_RETURN_IF_ERROR(cs.Run());
    }
    return Status::Ok();
  });
  if (!done.ok()) return done;
  return id;
}

Status ReviewQueue::LoadCategories(ReviewItem& item) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("SELECT category, why, rule, level, redacted, content, decision, "
                   "extra_redacted, reason, decided_by, decided_at FROM review_categories "
                   "WHERE item_id = ? ORDER BY category"));
  s.Bind(1, item.id);
  item.categories.clear();
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ReviewCategory c;
    c.category = s.ColumnText(0);
    c.why = s.ColumnText(1);
    c.rule = s.ColumnText(2);
    c.level = static_cast<int>(s.ColumnInt(3));
    c.redacted = StringList(ParseStored(s.ColumnText(4)));
    c.content = ParseStored(s.ColumnText(5));
    if (!c.content.is_object()) c.content = nlohmann::json::object();
    c.decision = s.ColumnText(6);
    c.extra_redacted = StringList(ParseStored(s.ColumnText(7)));
    c.reason = s.ColumnText(8);
    c.decided_by = s.ColumnText(9);
    c.decided_at = s.ColumnInt(10);
    item.categories.push_back(std::move(c));
  }
  return Status::Ok();
}

Result<std::vector<ReviewItem>> ReviewQueue::Select(const std::string& where, int64_t bind) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT " + std::string(kItemColumns) +
                                     " FROM review_items WHERE " + where + " ORDER BY id"));
  if (where.find('?') != std::string::npos) s.Bind(1, bind);
  std::vector<ReviewItem> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadItem(s));
  }
  for (auto& item : out) MASH_RETURN_IF_ERROR(LoadCategories(item));
  return out;
}

Result<ReviewItem> ReviewQueue::Get(int64_t id) {
  MASH_ASSIGN_OR_RETURN(std::vector<ReviewItem> items, Select("id = ?", id));
  if (items.empty()) return NotFound("no review item " + std::to_string(id));
  return std::move(items.front());
}

Result<std::optional<ReviewItem>> ReviewQueue::FindByQuery(const std::string& query_id) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT id FROM review_items WHERE query_id = ?"));
  s.Bind(1, query_id);
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ReviewItem>();
  MASH_ASSIGN_OR_RETURN(ReviewItem item, Get(s.ColumnInt(0)));
  return std::optional<ReviewItem>(std::move(item));
}

Result<std::vector<ReviewItem>> ReviewQueue::List(bool all) {
  return Select(all ? "1 = 1" : "status = 'pending'", 0);
}

Result<std::vector<ReviewItem>> ReviewQueue::ReadyToSend(bool and_unreceipted) {
  return Select(and_unreceipted ? "status IN ('decided', 'sent')" : "status = 'decided'", 0);
}

Result<ReviewItem> ReviewQueue::Decide(int64_t id, const ReviewDecision& d, int64_t now) {
  using Kind = ReviewDecision::Kind;
  if (d.by.empty()) return InvalidArgument("the custodian's name is needed (--by)");
  if (d.kind == Kind::kDecline && d.reason.find_first_not_of(" \t") == std::string::npos) {
    return InvalidArgument("declining needs a reason (--reason)");
  }
  if (d.kind != Kind::kRelease && d.category.empty()) {
    return InvalidArgument("name the category (--category)");
  }
  if (d.kind == Kind::kRedact && d.fields.empty()) {
    return InvalidArgument("redacting needs the fields to remove (--fields)");
  }
  for (const auto& f : d.fields) {
    if (f.empty() || f.size() > kMaxFieldNameBytes) {
      return InvalidArgument("a field name is empty or longer than 64 bytes");
    }
  }
  if (d.reason.size() > kMaxCustodianReasonBytes) {
    return InvalidArgument("the reason is longer than 800 bytes");
  }
  for (const char c : d.reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("the reason holds a control character");
    }
  }
  const std::string decision(ReviewDecisionName(d.kind));
  Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(ReviewItem item, Get(id));
    if (item.status != "pending") {
      return FailedPrecondition("review item " + std::to_string(id) + " is decided already");
    }
    std::vector<std::string> targets;
    for (const auto& c : item.categories) {
      if (!d.category.empty() && c.category != d.category) continue;
      if (!c.decision.empty()) {
        if (!d.category.empty()) {
          return FailedPrecondition("category " + c.category + " of review item " +
                                    std::to_string(id) + " is decided already");
        }
        continue;
      }
      targets.push_back(c.category);
    }
    if (targets.empty()) {
      return NotFound("review item " + std::to_string(id) + " has no category " + d.category);
    }
    for (const auto& category : targets) {
      // Only while undecided: a second process racing for the same category changes nothing.
      MASH_ASSIGN_OR_RETURN(
          storage::Statement u,
          db_->Prepare("UPDATE review_categories SET decision = ?, extra_redacted = ?, "
                       "reason = ?, decided_by = ?, decided_at = ? "
                       "WHERE item_id = ? AND category = ? AND decision = ''"));
      u.Bind(1, decision)
          .Bind(2, nlohmann::json(d.fields).dump())
          .Bind(3, d.reason)
          .Bind(4, d.by)
          .Bind(5, now)
          .Bind(6, id)
          .Bind(7, category);
      MASH_RETURN_IF_ERROR(u.Run());
      if (db_->Changes() != 1) return FailedPrecondition("category " + category + " is decided");
      MASH_ASSIGN_OR_RETURN(
          storage::Statement log,
          db_->Prepare("INSERT INTO custodian_decisions (time, item_id, check_ref, query_id, "
                       "category, decision, fields, reason, decided_by, policy_version) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      log.Bind(1, now)
          .Bind(2, id)
          .Bind(3, item.check_ref)
          .Bind(4, item.query_id)
          .Bind(5, category)
          .Bind(6, decision)
          .Bind(7, nlohmann::json(d.fields).dump())
          .Bind(8, d.reason)
          .Bind(9, d.by)
          .Bind(10, item.policy_version);
      MASH_RETURN_IF_ERROR(log.Run());
    }
    MASH_ASSIGN_OR_RETURN(
        storage::Statement open,
        db_->Prepare("SELECT COUNT(*) FROM review_categories WHERE item_id = ? AND decision = ''"));
    open.Bind(1, id);
    MASH_ASSIGN_OR_RETURN(bool row, open.Step());
    if (row && open.ColumnInt(0) == 0) {
      MASH_ASSIGN_OR_RETURN(
          storage::Statement st,
          db_->Prepare("UPDATE review_items SET status = 'decided' WHERE id = ? AND "
                       "status = 'pending'"));
      st.Bind(1, id);
      MASH_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  });
  if (!done.ok()) return done;
  // Ids, vocabulary and the custodian's name only: the reason may name people.
  common::LogInfo("custodian.decision", {{"item", id},
                                         {"category", d.category.empty() ? "*" : d.category},
                                         {"decision", decision},
                                         {"by", d.by}});
  return Get(id);
}

Status ReviewQueue::MarkSent(int64_t id, const std::string& answer_id, int64_t now) {
  return db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(ReviewItem item, Get(id));
    item.answer_ids.push_back(answer_id);
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("UPDATE review_items SET status = 'sent', answer_ids = ?, sent_at = ? "
                     "WHERE id = ? AND status IN ('decided', 'sent')"));
    s.Bind(1, JoinIds(item.answer_ids)).Bind(2, now).Bind(3, id);
    MASH_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() != 1) return FailedPrecondition("review item is not ready to send");
    return Status::Ok();
  });
}

Status ReviewQueue::MarkChased(int64_t id, int64_t now, const std::string& deadline) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("UPDATE review_items SET chased_at = ?, chase_deadline = ? "
                                     "WHERE id = ? AND status = 'pending'"));
  s.Bind(1, now).Bind(2, deadline).Bind(3, id);
  MASH_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() != 1) {
    return FailedPrecondition("review item " + std::to_string(id) + " is not pending");
  }
  return Status::Ok();
}

Result<bool> ReviewQueue::OnReceipt(const std::string& answer_id) {
  // Answer ids are 32 hex digits: a LIKE pattern built from one has no wildcard in it.
  if (answer_id.empty() || answer_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return false;
  }
  bool matched = false;
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db_->Prepare("SELECT id FROM review_items WHERE status = 'sent' AND "
                                       "(' ' || answer_ids || ' ') LIKE ?"));
    s.Bind(1, "% " + answer_id + " %");
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::Ok();
    const int64_t id = s.ColumnInt(0);
    // The hub has it: the subject and the content are no longer needed here (the disclosure
    // log keeps what was decided and sent).
    MASH_ASSIGN_OR_RETURN(
        storage::Statement u,
        db_->Prepare("UPDATE review_items SET status = 'receipted', subject = '' WHERE id = ?"));
    u.Bind(1, id);
    MASH_RETURN_IF_ERROR(u.Run());
    MASH_ASSIGN_OR_RETURN(
        storage::Statement c,
        db_->Prepare("UPDATE review_categories SET content = '{}' WHERE item_id = ?"));
    c.Bind(1, id);
    MASH_RETURN_IF_ERROR(c.Run());
    matched = true;
    return Status::Ok();
  });
  if (!done.ok()) return done;
  return matched;
}

Result<ReviewQueue::Awaiting> ReviewQueue::CountAwaiting() {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("SELECT count(DISTINCT i.id), count(c.item_id) FROM review_items i "
                   "LEFT JOIN review_categories c ON c.item_id = i.id AND c.decision = '' "
                   "WHERE i.status = 'pending'"));
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  Awaiting out;
  if (row) {
    out.items = s.ColumnInt(0);
    out.categories = s.ColumnInt(1);
  }
  return out;
}

Result<std::vector<nlohmann::json>> ReviewQueue::Decisions(int limit, int64_t since,
                                                           const std::string& check_ref) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("SELECT time, item_id, check_ref, query_id, category, decision, fields, "
                   "reason, decided_by, policy_version FROM custodian_decisions "
                   "WHERE time >= ? AND (? = '' OR check_ref = ?) ORDER BY id DESC LIMIT ?"));
  s.Bind(1, since);
  s.Bind(2, check_ref);
  s.Bind(3, check_ref);
  s.Bind(4, static_cast<int64_t>(limit));
  std::vector<nlohmann::json> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({{"time", s.ColumnInt(0)},
                   {"item", s.ColumnInt(1)},
                   {"check_ref", s.ColumnText(2)},
                   {"query_id", s.ColumnText(3)},
                   {"category", s.ColumnText(4)},
                   {"decision", s.ColumnText(5)},
                   {"fields", ParseStored(s.ColumnText(6))},
                   {"reason", s.ColumnText(7)},
                   {"by", s.ColumnText(8)},
                   {"policy_version", s.ColumnText(9)}});
  }
  return out;
}

std::string ReviewStatusText(const ReviewItem& item) {
  std::string text = item.status;
  if (item.status == "pending" && item.chased_at != 0) {
    text += ", CHASED, due " + item.chase_deadline;
  }
  return text;
}

Result<ReviewItem> DecideReview(const AgentConfig& config, int64_t id,
                                const ReviewDecision& decision, int64_t now) {
  storage::DatabaseOptions options;
  options.file = config.database;
  options.key_file = config.database_key;
  options.create_if_missing = false;
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Database> db, storage::Database::Open(options));
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<ReviewQueue> queue, ReviewQueue::Create(db.get()));
  return queue->Decide(id, decision, now);
}

}  // namespace mash::agent
