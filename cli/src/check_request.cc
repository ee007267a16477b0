#include "mash/cli/check_request.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iomanip>
#include <string_view>
#include <vector>

#include "mash/schemas/validator.h"

namespace mash::cli {
namespace {

using nlohmann::json;

// A string member of `j`, or "" when it is missing or not a string.
std::string Str(const json& j, std::string_view key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string Safe(std::string_view text) { return SafeForTerminal(text); }

std::string Shown(const json& j, std::string_view key) {
  if (!j.is_object()) return "-";
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->empty() ? "-" : Safe(it->get<std::string>());
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number()) return Safe(it->dump());
  return "-";
}

const json& Parts(const json& check) {
  static const json kEmpty = json::array();
  if (!check.is_object()) return kEmpty;
  const auto it = check.find("agencies");
  return it != check.end() && it->is_array() ? *it : kEmpty;
}

bool IsCalendarDate(std::string_view dob) {
  // The schema has checked the shape ^[0-9]{4}-[0-9]{2}-[0-9]{2}$.
  if (dob.size() != 10) return false;
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (dob[i] - '0');
    return v;
  };
  const std::chrono::year_month_day ymd{std::chrono::year(num(0, 4)),
                                        std::chrono::month(static_cast<unsigned>(num(5, 2))),
                                        std::chrono::day(static_cast<unsigned>(num(8, 2)))};
  return ymd.ok();
}

// The strings of the array `j[key]`, made safe for a terminal and joined with ", "; "" when
// absent or empty.
std::string JoinedStrings(const json& j, std::string_view key) {
  std::string out;
  if (!j.is_object()) return out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += ", ";
    out += Safe(v.get<std::string>());
  }
  return out;
}

bool IsTrue(const json& j, std::string_view key) {
  if (!j.is_object()) return false;
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const json* Member(const json& j, std::string_view key, json::value_t type) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it != j.end() && it->type() == type ? &*it : nullptr;
}

// Rows as columns two spaces apart; the first row is the header. Cells are already safe.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

// "due_at", followed by " OVERDUE" when the broker says the check is overdue.
std::string Due(const json& j) {
  std::string due = Shown(j, "due_at");
  if (IsTrue(j, "overdue")) due += " OVERDUE";
  return due;
}

const std::array<std::string_view, 5> kOutcomes = {"information_and_advice", "early_help",
                                                   "child_and_family_assessment",
                                                   "strategy_discussion", "no_further_action"};

}  // namespace

// Some terminals obey the UTF-8 form of the C1 controls (U+009B is CSI) as well as C0.
std::string SafeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else if (u == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += '?';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<nlohmann::json> BuildRaiseRequest(const RaiseFlags& f) {
  json subject = json::object();
  json identifiers = json::object();
  if (!f.nhs_number.empty()) identifiers["nhs_number"] = f.nhs_number;
  if (!f.pnc_id.empty()) identifiers["pnc_id"] = f.pnc_id;
  if (!f.upn.empty()) identifiers["upn"] = f.upn;
  if (!f.ni_number.empty()) identifiers["ni_number"] = f.ni_number;
  if (!identifiers.empty()) subject["identifiers"] = std::move(identifiers);
  if (!f.given_names.empty()) subject["given_names"] = f.given_names;
  if (!f.family_name.empty()) subject["family_name"] = f.family_name;
  if (!f.dob.empty()) subject["dob"] = f.dob;
  if (!f.sex.empty()) subject["sex"] = f.sex;
  if (!f.postcodes.empty()) subject["postcodes"] = f.postcodes;

  json consent = json::object();
  if (!f.consent.empty()) consent["state"] = f.consent;
  if (!f.evidence_ref.empty()) consent["evidence_ref"] = f.evidence_ref;
  if (!f.override_ground.empty()) consent["override_ground"] = f.override_ground;
  if (!f.justification.empty()) consent["justification"] = f.justification;

  json body = json::object();
  body["subject"] = std::move(subject);
  if (!f.purpose.empty()) body["purpose"] = f.purpose;
  if (!f.lawful_basis.empty()) body["lawful_basis"] = f.lawful_basis;
  if (!f.consent.empty()) body["consent"] = std::move(consent);
  if (!f.urgency.empty()) body["urgency"] = f.urgency;
  if (f.level) body["level"] = *f.level;
  if (!f.agencies.empty()) body["agencies"] = f.agencies;
  if (!f.categories.empty()) body["categories"] = f.categories;
  MASH_RETURN_IF_ERROR(CheckRaiseRequest(body));
  return body;
}

Status CheckRaiseRequest(const nlohmann::json& body) {
  MASH_RETURN_IF_ERROR(schemas::Validate("check-request", body));
  // From here on the shape is known: every member read below has the type the schema says.
  const json& consent = body.at("consent");
  const std::string state = Str(consent, "state");
  const bool has_evidence = consent.contains("evidence_ref");
  const bool has_ground = consent.contains("override_ground");
  if (state == "given") {
    if (!has_evidence) {
      return InvalidArgument("/consent/evidence_ref: consent given needs an evidence reference");
    }
    if (has_ground) {
      return InvalidArgument("/consent/override_ground: not allowed when consent is given");
    }
  } else {
    if (!has_ground) {
      return InvalidArgument(
          "/consent/override_ground: without consent, one of the four override grounds is "
          "required");
    }
    if (!consent.contains("justification")) {
      return InvalidArgument("/consent/justification: an override needs a justification");
    }
  }
  auto check_person = [](const json& person, const std::string& where) -> Status {
    const auto ids = person.find("identifiers");
    const bool has_id = ids != person.end() && !ids->empty();
    if (!has_id && (Str(person, "family_name").empty() || Str(person, "dob").empty())) {
      return InvalidArgument(where +
                             ": give an identifier (NHS number, PNC id, UPN, NI number) or a "
                             "family name and date of birth");
    }
    if (person.contains("dob") && !IsCalendarDate(Str(person, "dob"))) {
      return InvalidArgument(where + "/dob: not a calendar date (YYYY-MM-DD)");
    }
    return Status::Ok();
  };
  MASH_RETURN_IF_ERROR(check_person(body.at("subject"), "/subject"));
  if (const auto it = body.find("household"); it != body.end()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const json& member = (*it)[i];
      if (member.contains("dob") && !IsCalendarDate(Str(member, "dob"))) {
        return InvalidArgument("/household/" + std::to_string(i) +
                               "/dob: not a calendar date (YYYY-MM-DD)");
      }
    }
  }
  return Status::Ok();
}

bool IsCheckId(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsSettled(const nlohmann::json& check) {
  // Closed by its MASH decision: nothing that comes later belongs to the check.
  if (Str(check, "state") == "closed") return true;
  for (const auto& part : Parts(check)) {
    const std::string state = Str(part, "state");
    if (state == "waiting_for_agent" || state == "sent") return false;
  }
  return true;
}

int UnansweredParts(const nlohmann::json& check) {
  int n = 0;
  for (const auto& part : Parts(check)) {
    const std::string state = Str(part, "state");
    if (state == "no_answer" || state == "failed") ++n;
  }
  return n;
}

bool IsMashOutcome(std::string_view outcome) {
  return std::find(kOutcomes.begin(), kOutcomes.end(), outcome) != kOutcomes.end();
}

Result<nlohmann::json> BuildDecisionRequest(const std::string& outcome,
                                            const std::string& rationale) {
  if (!IsMashOutcome(outcome)) {
    return InvalidArgument(
        "--outcome: one of information_and_advice, early_help, child_and_family_assessment, "
        "strategy_discussion, no_further_action");
  }
  if (rationale.size() < kMinRationale || rationale.size() > kMaxRationale) {
    return InvalidArgument("--rationale: give the rationale, " + std::to_string(kMinRationale) +
                           " to " + std::to_string(kMaxRationale) + " characters");
  }
  return json{{"outcome", outcome}, {"rationale", rationale}};
}

void PrintCheck(const nlohmann::json& check, std::ostream& out) {
  const std::string state = Str(check, "state");
  out << "check    " << Shown(check, "id") << "\n"
      << "state    " << Shown(check, "state") << "\n";
  if (const std::string team = Str(check, "team"); !team.empty()) {
    out << "team     " << Safe(team) << ", raised by " << Shown(check, "raised_by") << " at "
        << Shown(check, "raised_at") << "\n";
  }
  out << "purpose  " << Shown(check, "purpose");
  if (const std::string name = Str(check, "purpose_name");
      !name.empty() && name != Str(check, "purpose")) {
    out << " (" << Safe(name) << ")";
  }
  out << "\n"
      << "urgency  " << Shown(check, "urgency") << "\n";
  if (check.is_object() && check.contains("due_at")) out << "due      " << Due(check) << "\n";
  out << "policy   " << Shown(check, "policy_version") << "\n";
  if (const json* household = Member(check, "household", json::value_t::array)) {
    out << "household " << household->size() << " member" << (household->size() == 1 ? "" : "s")
        << "\n";
  }
  if (const std::string evidence = Str(check, "consent_evidence"); !evidence.empty()) {
    out << "consent  given, recorded at " << Safe(evidence) << "\n";
  }
  if (const json* ov = Member(check, "override", json::value_t::object)) {
    out << "ground   " << Shown(*ov, "ground");
    if (const std::string name = Str(*ov, "ground_name");
        !name.empty() && name != Str(*ov, "ground")) {
      out << " (" << Safe(name) << ")";
    }
    out << ": " << Shown(*ov, "justification") << "\n";
  }
  if (const std::string duties = JoinedStrings(check, "obligations"); !duties.empty()) {
    out << "duties   " << duties << "\n";
  }
  if (const json* auth = Member(check, "authorisation", json::value_t::object)) {
    out << "override " << Shown(*auth, "decision") << " by " << Shown(*auth, "by") << " at "
        << Shown(*auth, "at") << ": " << Shown(*auth, "reason") << "\n";
  } else if (state == "awaiting_authorisation") {
    out << "override awaiting a manager: mashctl check authorise " << Shown(check, "id")
        << " --decision authorise|reject --reason TEXT\n";
  }
  if (const std::string reviewing = JoinedStrings(check, "awaiting_agency_review");
      !reviewing.empty()) {
    out << "review   waiting for the custodian of " << reviewing << "\n";
  }
  if (const std::string note = Str(check, "note"); !note.empty()) {
    out << "note     " << Safe(note) << "\n";
  }
  if (const json* decision = Member(check, "decision", json::value_t::object)) {
    out << "decision " << Shown(*decision, "outcome") << " by " << Shown(*decision, "by") << " at "
        << Shown(*decision, "at") << ": " << Shown(*decision, "rationale") << "\n";
  } else if (state == "answered" || state == "partially_answered" || state == "expired") {
    out << "decide   mashctl check decide " << Shown(check, "id")
        << " --outcome information_and_advice|early_help|child_and_family_assessment|"
           "strategy_discussion|no_further_action --rationale TEXT\n";
  }
  for (const auto& part : Parts(check)) {
    out << "\n"
        << "agency " << Shown(part, "agency");
    const std::string name = Shown(part, "name");
    if (name != "-" && name != Shown(part, "agency")) out << " (" << name << ")";
    out << "\n";
    if (const auto review = part.find("review"); review != part.end() && review->is_object()) {
      out << "  waiting for " << (name != "-" ? name : Shown(part, "agency"))
          << " (custodian review: " << JoinedStrings(*review, "categories") << ")";
      if (IsTrue(*review, "overdue")) out << ", past the deadline";
      out << "\n";
    }
    if (IsTrue(part, "late")) out << "  late        answered after the deadline\n";
    out << "  state       " << Shown(part, "state") << "\n";
    if (part.contains("chased_at")) out << "  chased      " << Shown(part, "chased_at") << "\n";
    if (IsTrue(part, "breached")) out << "  breached    the deadline passed before it answered\n";
    if (IsTrue(part, "overdue")) out << "  OVERDUE     still open past the deadline\n";
    out << "  level       " << Shown(part, "level") << " (agreement rule " << Shown(part, "rule")
        << ")\n"
        << "  elapsed_ms  " << Shown(part, "elapsed_ms") << "\n";
    const auto answer_it = part.is_object() ? part.find("answer") : part.end();
    if (!part.is_object() || answer_it == part.end() || !answer_it->is_object()) {
      out << "  answer      none yet\n";
      continue;
    }
    const json& answer = *answer_it;
    out << "  held        " << Shown(answer, "held") << "\n"
        << "  match       " << Shown(answer, "match") << "\n";
    const std::string matched_on = JoinedStrings(answer, "matched_on");
    out << "  matched_on  " << (matched_on.empty() ? "-" : matched_on) << "\n"
        << "  policy      " << Shown(answer, "policy_version") << "\n";
    // Household members: held or not and the match band only (docs/agent.md).
    if (const auto household = answer.find("household");
        household != answer.end() && household->is_array()) {
      for (const auto& member : *household) {
        const std::string agreed = JoinedStrings(member, "matched_on");
        out << "  household   member " << Shown(member, "index") << ": " << Shown(member, "match");
        if (!agreed.empty()) out << " (" << agreed << ")";
        out << "\n";
      }
    }
    const auto cats = answer.find("categories");
    if (cats == answer.end() || !cats->is_array() || cats->empty()) {
      out << "  categories  none\n";
      continue;
    }
    out << "  categories\n";
    for (const auto& cat : *cats) {
      out << "    " << Shown(cat, "category");
      if (const std::string cat_name = Str(cat, "name");
          !cat_name.empty() && cat_name != Str(cat, "category")) {
        out << " (" << Safe(cat_name) << ")";
      }
      out << ": " << Shown(cat, "outcome");
      if (cat.contains("level")) out << ", level " << Shown(cat, "level");
      if (cat.contains("rule")) out << " (rule " << Shown(cat, "rule") << ")";
      out << "\n";
      if (const std::string fields = JoinedStrings(cat, "redacted"); !fields.empty()) {
        out << "      redacted: " << fields << "\n";
      }
      const std::string summary = Str(cat, "summary");
      const std::string reason = Str(cat, "reason");
      const std::string why = Str(cat, "why");
      if (!summary.empty()) out << "      summary: " << Safe(summary) << "\n";
      if (!reason.empty()) out << "      reason: " << Safe(reason) << "\n";
      if (!why.empty()) out << "      why: " << Safe(why) << "\n";
    }
  }
}

void PrintCheckList(const nlohmann::json& reply, std::ostream& out) {
  const json* list = Member(reply, "checks", json::value_t::array);
  if (list == nullptr || list->empty()) {
    out << "no checks\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "STATE", "URGENCY", "DUE", "BREACHES", "PURPOSE", "RAISED_BY", "OUTCOME"});
  for (const auto& c : *list) {
    std::string state = Shown(c, "state");
    if (IsTrue(c, "override")) state += " (override)";
    rows.push_back({Shown(c, "id"), state, Shown(c, "urgency"), Due(c), Shown(c, "breaches"),
                    Shown(c, "purpose"), Shown(c, "raised_by"), Shown(c, "outcome")});
  }
  PrintTable(rows, out);
}

void PrintAlert(const nlohmann::json& alert, std::ostream& out) {
  out << "alert " << Shown(alert, "id") << " " << Shown(alert, "kind") << " "
      << Shown(alert, "status") << "\n"
      << "  raised      " << Shown(alert, "created_at") << ", about " << Shown(alert, "person")
      << " (" << Shown(alert, "role");
  if (!Str(alert, "team").empty()) out << ", team " << Shown(alert, "team");
  out << ")\n"
      << "  summary     " << Shown(alert, "summary") << "\n";
  if (!Str(alert, "check").empty()) out << "  check       " << Shown(alert, "check") << "\n";
  if (const json* o = Member(alert, "override", json::value_t::object)) {
    out << "  override    " << Shown(*o, "state") << ", " << Shown(*o, "purpose") << ", urgency "
        << Shown(*o, "urgency") << ", " << Shown(*o, "agencies") << " agencies, consent "
        << Shown(*o, "consent") << "\n"
        << "  ground      " << Shown(*o, "ground");
    if (const std::string name = Str(*o, "ground_name");
        !name.empty() && name != Str(*o, "ground")) {
      out << " (" << Safe(name) << ")";
    }
    out << "\n"
        << "  justified   " << Shown(*o, "justification") << "\n";
    if (const json* auth = Member(*o, "authorisation", json::value_t::object)) {
      out << "  manager     " << Shown(*auth, "decision") << " by " << Shown(*auth, "by") << " at "
          << Shown(*auth, "at") << ": " << Shown(*auth, "reason") << "\n";
    } else {
      out << "  manager     not yet decided\n";
    }
  }
  if (const json* history = Member(alert, "history", json::value_t::array)) {
    for (const auto& h : *history) {
      out << "  " << Shown(h, "to") << " " << Shown(h, "at") << " by " << Shown(h, "by");
      if (!Str(h, "note").empty()) out << ": " << Shown(h, "note");
      out << "\n";
    }
  }
  if (Str(alert, "status") != "closed") {
    out << "  to move it on: mashctl audit alert-status " << Shown(alert, "id")
        << " --status under_review|escalated|closed --note TEXT\n";
  }
}

void PrintAlerts(const nlohmann::json& reply, std::ostream& out) {
  const json* list = Member(reply, "alerts", json::value_t::array);
  if (list == nullptr || list->empty()) {
    out << "no alerts\n";
    return;
  }
  bool first = true;
  for (const auto& alert : *list) {
    if (!first) out << "\n";
    first = false;
    PrintAlert(alert, out);
  }
}

void PrintAgencies(const nlohmann::json& reply, std::ostream& out) {
  const json* list = Member(reply, "agencies", json::value_t::array);
  if (list == nullptr || list->empty()) {
    out << "no agencies registered\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "NAME", "TYPE", "STATUS"});
  for (const auto& a : *list) {
    rows.push_back({Shown(a, "id"), Shown(a, "name"), Shown(a, "type"),
                    IsTrue(a, "online") ? "online" : "offline"});
  }
  PrintTable(rows, out);
}

}  // namespace mash::cli
