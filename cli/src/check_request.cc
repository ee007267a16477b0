#include "mash/cli/check_request.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iomanip>
#include <string_view>

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

// Text from the broker, made safe for a terminal: control characters (C0, DEL) become '?'.
// Bytes >= 0x80 pass, so UTF-8 names print as they are.
std::string Safe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

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

}  // namespace

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

void PrintCheck(const nlohmann::json& check, std::ostream& out) {
  out << "check    " << Shown(check, "id") << "\n"
      << "state    " << Shown(check, "state") << "\n"
      << "purpose  " << Shown(check, "purpose") << "\n"
      << "urgency  " << Shown(check, "urgency") << "\n"
      << "policy   " << Shown(check, "policy_version") << "\n";
  if (const std::string duties = JoinedStrings(check, "obligations"); !duties.empty()) {
    out << "duties   " << duties << "\n";
  }
  if (const auto it = check.find("authorisation"); it != check.end() && it->is_object()) {
    out << "override " << Shown(*it, "decision") << " by " << Shown(*it, "by") << " at "
        << Shown(*it, "at") << ": " << Shown(*it, "reason") << "\n";
  } else if (Str(check, "state") == "awaiting_authorisation") {
    out << "override awaiting a manager: mashctl check authorise " << Shown(check, "id")
        << " --decision authorise|reject --reason TEXT\n";
  }
  if (const std::string reviewing = JoinedStrings(check, "awaiting_agency_review");
      !reviewing.empty()) {
    out << "review   waiting for the custodian of " << reviewing << "\n";
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
      if (review->contains("overdue") && (*review)["overdue"].is_boolean() &&
          (*review)["overdue"].get<bool>()) {
        out << ", past the deadline";
      }
      out << "\n";
    }
    if (part.contains("late") && part["late"].is_boolean() && part["late"].get<bool>()) {
      out << "  late        the custodian's answer came after the deadline\n";
    }
    out << "  state       " << Shown(part, "state") << "\n"
        << "  level       " << Shown(part, "level") << " (agreement rule " << Shown(part, "rule")
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
      out << "    " << Shown(cat, "category") << ": " << Shown(cat, "outcome");
      if (cat.contains("level")) out << ", level " << Shown(cat, "level");
      if (cat.contains("rule")) out << " (rule " << Shown(cat, "rule") << ")";
      out << "\n";
      if (const std::string fields = JoinedStrings(cat, "redacted"); !fields.empty()) {
        out << "      redacted: " << fields << "\n";
      }
      const std::string summary = Str(cat, "summary");
      const std::string reason = Str(cat, "reason");
      if (!summary.empty()) out << "      summary: " << Safe(summary) << "\n";
      if (!reason.empty()) out << "      reason: " << Safe(reason) << "\n";
    }
  }
}

void PrintAgencies(const nlohmann::json& reply, std::ostream& out) {
  const json* list = nullptr;
  if (reply.is_object()) {
    const auto it = reply.find("agencies");
    if (it != reply.end() && it->is_array()) list = &*it;
  }
  if (list == nullptr || list->empty()) {
    out << "no agencies registered\n";
    return;
  }
  std::vector<std::array<std::string, 4>> rows;
  rows.push_back({"ID", "NAME", "TYPE", "STATUS"});
  for (const auto& a : *list) {
    const bool online = a.is_object() && a.contains("online") && a["online"].is_boolean() &&
                        a["online"].get<bool>();
    rows.push_back(
        {Shown(a, "id"), Shown(a, "name"), Shown(a, "type"), online ? "online" : "offline"});
  }
  std::array<size_t, 4> width{};
  for (const auto& row : rows) {
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

}  // namespace mash::cli
