// Practitioners' and managers' pages (DESIGN §2): raise a check as a sequence of questions with
// "check your answers", follow the team's checks, read the compiled answers with what was
// withheld and why, authorise or reject an override, record the MASH decision, and see the
// team's deadlines. Every page goes through CheckService, which enforces who may do what and
// audits every view; the pages add nothing to that but the forms.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>

#include "console/page.h"
#include "mash/common/log.h"
#include "mash/policy/vocabulary.h"

namespace mash::broker::console {
namespace {

const std::set<std::string> kTeamRoles = {"practitioner", "manager"};

// The answers of a check being raised, kept in memory for the session that writes them (never
// in a URL or a cookie), until it is raised, abandoned (idle too long) or the user signs out.
struct Draft {
  std::map<std::string, std::string> fields;
  std::vector<std::string> agencies;
  std::chrono::steady_clock::time_point used;
};

class Drafts {
 public:
  explicit Drafts(std::chrono::seconds idle) : idle_(idle) {}
  Draft* Find(const std::string& key) {
    Expire();
    auto it = drafts_.find(key);
    if (it == drafts_.end()) return nullptr;
    it->second.used = std::chrono::steady_clock::now();
    return &it->second;
  }
  Draft& Start(const std::string& key) {
    Expire();
    if (drafts_.size() >= kMaxDrafts && drafts_.count(key) == 0) {
      // The oldest draft goes first: a hub never has this many people raising at once.
      auto oldest = std::min_element(
          drafts_.begin(), drafts_.end(),
          [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
      drafts_.erase(oldest);
    }
    Draft& d = drafts_[key];
    d = Draft{};
    d.used = std::chrono::steady_clock::now();
    return d;
  }
  void Forget(const std::string& key) { drafts_.erase(key); }

 private:
  static constexpr size_t kMaxDrafts = 1000;
  void Expire() {
    const auto cutoff = std::chrono::steady_clock::now() - idle_;
    std::erase_if(drafts_, [&](const auto& kv) { return kv.second.used < cutoff; });
  }
  std::chrono::seconds idle_;
  std::map<std::string, Draft> drafts_;
};

const policy::Vocabulary& Vocab() { return policy::Vocabulary::Builtin(); }

std::string TermName(policy::Dimension d, const std::string& id) {
  for (const auto& t : Vocab().Terms(d)) {
    if (t.id == id) return t.name;
  }
  return id;
}

std::vector<Choice> TermChoices(policy::Dimension d) {
  std::vector<Choice> out;
  for (const auto& t : Vocab().Terms(d)) out.push_back({t.id, t.name, "", ""});
  return out;
}

bool IsTerm(policy::Dimension d, const std::string& id) { return Vocab().IndexOf(d, id) >= 0; }

std::string Humanise(std::string text) {
  std::replace(text.begin(), text.end(), '_', ' ');
  std::replace(text.begin(), text.end(), '-', ' ');
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

// The GOV.UK tag colour of a check's or a part's state.
std::string StateTag(const std::string& state) {
  static const std::map<std::string, std::string> kColours = {{"awaiting_authorisation", "yellow"},
                                                              {"dispatched", "blue"},
                                                              {"sent", "blue"},
                                                              {"waiting_for_agent", "light-blue"},
                                                              {"answered", "green"},
                                                              {"awaiting_agency_review", "purple"},
                                                              {"partially_answered", "orange"},
                                                              {"expired", "red"},
                                                              {"no_answer", "red"},
                                                              {"failed", "red"},
                                                              {"rejected", "grey"},
                                                              {"refused", "grey"},
                                                              {"closed", "grey"}};
  const auto it = kColours.find(state);
  return Tag(Humanise(state), it == kColours.end() ? "" : it->second);
}

std::string UrgencyTag(const std::string& urgency) {
  const std::string colour = urgency == "red" ? "red" : urgency == "amber" ? "orange" : "green";
  return Tag(Humanise(urgency), colour);
}

std::string OutcomeTag(const std::string& outcome) {
  static const std::map<std::string, std::string> kColours = {
      {"shared", "green"}, {"redacted", "yellow"}, {"withheld", "red"}, {"review", "purple"}};
  const auto it = kColours.find(outcome);
  return Tag(outcome == "review" ? "Awaiting custodian" : Humanise(outcome),
             it == kColours.end() ? "" : it->second);
}

std::string Str(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string TimeOf(const nlohmann::json& j, const char* key) {
  return FormatTime(ParseTime(Str(j, key)));
}

std::string ShortRef(const std::string& id) { return id.substr(0, 8); }

// ---- Validation of the question pages ----------------------------------------------------------

bool ValidNhsNumber(const std::string& text) {
  std::string digits;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
    } else if (c != ' ' && c != '-') {
      return false;
    }
  }
  if (digits.size() != 10) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (digits[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == digits[9] - '0';
}

std::string Digits(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

// A date of birth from day, month and year fields: "YYYY-MM-DD", or an error message.
std::pair<std::string, std::string> DateOfBirth(const std::string& d, const std::string& m,
                                                const std::string& y, int64_t now_unix) {
  if (d.empty() && m.empty() && y.empty()) return {"", ""};
  auto number = [](const std::string& s, int& out) {
    if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
    out = std::stoi(s);
    return true;
  };
  int day = 0, month = 0, year = 0;
  if (!number(d, day) || !number(m, month) || !number(y, year) || y.size() != 4) {
    return {"", "Date of birth must be a real date, for example 27 3 2011"};
  }
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return {"", "Date of birth must be a real date, for example 27 3 2011"};
  const auto days = std::chrono::sys_days(ymd).time_since_epoch();
  const int64_t unix = std::chrono::duration_cast<std::chrono::seconds>(days).count();
  if (unix > now_unix) return {"", "Date of birth must be today or in the past"};
  if (year < 1900) return {"", "Date of birth must be after 1900"};
  char buf[40];  // room for any int, so that -O2 sees no truncation (-Werror=format-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return {buf, ""};
}

// ---- The pages ---------------------------------------------------------------------------------

struct CheckPages {
  Context* context;
  std::shared_ptr<Drafts> drafts;

  CheckService* checks() const { return context->services.checks; }
  const std::string& service() const { return context->options.service_name; }
  int64_t NowUnix() const {
    return context->services.clock ? context->services.clock->NowUnix() : 0;
  }

  Response Show(const Request& r, Page page) const {
    return PageResponse(r, page, service(), page.errors.empty() ? 200 : 400);
  }

  // ---- Raising: the question pages -----------------------------------------------------------

  // The draft of this session, or a redirect to the start when there is none.
  Draft* DraftOf(const Request& r) const { return drafts->Find(r.session_key); }

  // Where a question page goes next: back to "check your answers" when changing an answer.
  static std::string Next(const Request& r, const std::string& next) {
    return r.query.Get("change") == "1" || r.form.Get("change") == "1" ? "/checks/new/check" : next;
  }

  static std::string ChangeField(const Request& r) {
    return r.query.Get("change") == "1" ? "<input type=\"hidden\" name=\"change\" value=\"1\">"
                                        : "";
  }

  Response StartPage(const Request& r) const {
    Page page;
    page.title = "Raise a check";
    page.body =
        Paragraph(
            "Ask the hub's agencies what they hold about a child or adult at risk. "
            "You will be asked:") +
        "<ul class=\"govuk-list govuk-list--bullet\"><li>who the check is about</li><li>why you "
        "are asking and the lawful basis</li><li>whether consent was given and, if not, the "
        "ground for going ahead without it</li><li>how urgent it is</li><li>which agencies to "
        "ask</li></ul>" +
        Paragraph(
            "A check without consent waits for a manager of your team to authorise it. "
            "Nothing is sent to any agency until then.") +
        Form(r, "/checks/new", Button("Start now", "govuk-button--start"));
    return Show(r, page);
  }

  Response SubjectPage(const Request& r, const Draft& d, Errors errors) const {
    auto f = [&](const std::string& k) {
      const auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    Page page;
    page.title = "Who is the check about?";
    page.caption = "Raise a check";
    page.back = r.query.Get("change") == "1" ? "/checks/new/check" : "/checks/new";
    page.errors = std::move(errors);
    std::string html = ChangeField(r);
    html += Paragraph(
        "Give an identifier when you have one: agencies match on it first. "
        "Without one, give the family name and date of birth.");
    html += TextInput({.name = "given_names",
                       .label = "Given names",
                       .value = f("given_names"),
                       .error = ErrorFor(page.errors, "given_names"),
                       .autocomplete = "off"});
    html += TextInput({.name = "family_name",
                       .label = "Family name",
                       .value = f("family_name"),
                       .error = ErrorFor(page.errors, "family_name"),
                       .autocomplete = "off"});
    html += DateInput({.name = "dob",
                       .legend = "Date of birth",
                       .hint = "For example, 27 3 2011",
                       .error = ErrorFor(page.errors, "dob-day")},
                      f("dob-day"), f("dob-month"), f("dob-year"));
    html += Radios({.name = "sex",
                    .legend = "Sex",
                    .error = ErrorFor(page.errors, "sex"),
                    .choices = {{"female", "Female", "", ""},
                                {"male", "Male", "", ""},
                                {"other", "Other", "", ""},
                                {"unknown", "Not known", "", ""}},
                    .selected = {f("sex")},
                    .small = true,
                    .inline_ = true});
    html += TextInput({.name = "postcode",
                       .label = "Postcode (optional)",
                       .value = f("postcode"),
                       .error = ErrorFor(page.errors, "postcode"),
                       .classes = "govuk-input--width-10",
                       .autocomplete = "off"});
    html += TextInput({.name = "nhs_number",
                       .label = "NHS number (optional)",
                       .hint = "10 digits, for example 943 476 5919",
                       .value = f("nhs_number"),
                       .error = ErrorFor(page.errors, "nhs_number"),
                       .classes = "govuk-input--width-10",
                       .autocomplete = "off"});
    html += TextInput({.name = "pnc_id",
                       .label = "Police National Computer ID (optional)",
                       .value = f("pnc_id"),
                       .error = ErrorFor(page.errors, "pnc_id"),
                       .classes = "govuk-input--width-20",
                       .autocomplete = "off"});
    html += TextInput({.name = "upn",
                       .label = "Unique pupil number (optional)",
                       .value = f("upn"),
                       .error = ErrorFor(page.errors, "upn"),
                       .classes = "govuk-input--width-20",
                       .autocomplete = "off"});
    html += Button("Continue");
    page.body = Form(r, "/checks/new/subject", html);
    return Show(r, page);
  }

  Errors SaveSubject(const Request& r, Draft& d) const {
    Errors errors;
    for (const char* k : {"given_names", "family_name", "dob-day", "dob-month", "dob-year", "sex",
                          "postcode", "nhs_number", "pnc_id", "upn"}) {
      d.fields[k] = r.form.Get(k);
    }
    auto& fields = d.fields;
    if (fields["family_name"].empty()) {
      errors.push_back({"family_name", "Enter the family name"});
    } else if (fields["family_name"].size() > 200) {
      errors.push_back({"family_name", "Family name must be 200 characters or fewer"});
    }
    if (fields["given_names"].size() > 200) {
      errors.push_back({"given_names", "Given names must be 200 characters or fewer"});
    }
    auto [dob, dob_error] =
        DateOfBirth(fields["dob-day"], fields["dob-month"], fields["dob-year"], NowUnix());
    if (!dob_error.empty()) errors.push_back({"dob-day", dob_error});
    fields["dob"] = dob;
    const std::string sex = fields["sex"];
    if (!sex.empty() && sex != "female" && sex != "male" && sex != "other" && sex != "unknown") {
      errors.push_back({"sex", "Select the sex"});
    }
    if (fields["postcode"].size() > 10) {
      errors.push_back({"postcode", "Enter a real postcode, for example LS1 4AP"});
    }
    if (!fields["nhs_number"].empty() && !ValidNhsNumber(fields["nhs_number"])) {
      errors.push_back({"nhs_number",
                        "Enter a valid NHS number: 10 digits with a correct check "
                        "digit"});
    }
    if (fields["pnc_id"].size() > 24) {
      errors.push_back({"pnc_id", "PNC ID must be 24 characters or fewer"});
    }
    if (fields["upn"].size() > 16) errors.push_back({"upn", "UPN must be 16 characters or fewer"});
    const bool identifier =
        !fields["nhs_number"].empty() || !fields["pnc_id"].empty() || !fields["upn"].empty();
    if (errors.empty() && !identifier && dob.empty()) {
      errors.push_back({"dob-day",
                        "Enter the date of birth, or an identifier such as the NHS "
                        "number"});
    }
    return errors;
  }

  Response PurposePage(const Request& r, const Draft& d, Errors errors) const {
    Page page;
    page.title = "Why are you asking?";
    page.caption = "Raise a check";
    page.back = r.query.Get("change") == "1" ? "/checks/new/check" : "/checks/new/subject";
    page.errors = std::move(errors);
    auto get = [&](const char* k) {
      auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    std::string html = ChangeField(r);
    html += Radios({.name = "purpose",
                    .legend = "Purpose",
                    .error = ErrorFor(page.errors, "purpose"),
                    .choices = TermChoices(policy::Dimension::kPurpose),
                    .selected = {get("purpose")}});
    html += Radios({.name = "lawful_basis",
                    .legend = "Lawful basis",
                    .hint = "The basis in law for sharing under the hub's agreement",
                    .error = ErrorFor(page.errors, "lawful_basis"),
                    .choices = TermChoices(policy::Dimension::kLawfulBasis),
                    .selected = {get("lawful_basis")}});
    html += Button("Continue");
    page.body = Form(r, "/checks/new/purpose", html);
    return Show(r, page);
  }

  Response ConsentPage(const Request& r, const Draft& d, Errors errors) const {
    Page page;
    page.title = "Has the person given consent?";
    page.caption = "Raise a check";
    page.back = r.query.Get("change") == "1" ? "/checks/new/check" : "/checks/new/purpose";
    page.errors = std::move(errors);
    auto get = [&](const char* k) {
      auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    const std::string evidence = TextInput({.name = "evidence_ref",
                                            .label = "Where the consent is recorded",
                                            .hint = "For example, the case record reference",
                                            .value = get("evidence_ref"),
                                            .error = ErrorFor(page.errors, "evidence_ref"),
                                            .autocomplete = "off"});
    std::string html = ChangeField(r);
    html += Radios({.name = "consent_state",
                    .legend = "Has the person given consent?",
                    .error = ErrorFor(page.errors, "consent_state"),
                    .choices = {{"given", "Yes, consent was given", "", evidence},
                                {"refused", "No, consent was refused", "", ""},
                                {"withdrawn", "Consent was withdrawn", "", ""},
                                {"not_sought", "Consent was not sought",
                                 "For example, asking would put someone at risk", ""}},
                    .selected = {get("consent_state")},
                    .legend_is_heading = true});
    html += Button("Continue");
    page.heading_in_form = true;
    page.body = Form(r, "/checks/new/consent", html);
    return Show(r, page);
  }

  Response OverridePage(const Request& r, const Draft& d, Errors errors) const {
    Page page;
    page.title = "Why go ahead without consent?";
    page.caption = "Raise a check";
    page.back = "/checks/new/consent";
    page.errors = std::move(errors);
    auto get = [&](const char* k) {
      auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    std::string html = ChangeField(r);
    html += InsetText(
        "<p class=\"govuk-body\">A manager of your team must authorise this check "
        "before anything is sent. The hub's IG officers review every check "
        "raised without consent.</p>");
    html += Radios({.name = "override_ground",
                    .legend = "Ground",
                    .error = ErrorFor(page.errors, "override_ground"),
                    .choices = TermChoices(policy::Dimension::kOverrideGround),
                    .selected = {get("override_ground")}});
    html += Textarea({.name = "justification",
                      .label = "Justification",
                      .hint = "Why sharing without consent is necessary and proportionate "
                              "(10 to 4000 characters)",
                      .value = get("justification"),
                      .error = ErrorFor(page.errors, "justification")},
                     6);
    html += Button("Continue");
    page.body = Form(r, "/checks/new/override", html);
    return Show(r, page);
  }

  Response UrgencyPage(const Request& r, const Draft& d, Errors errors) const {
    Page page;
    page.title = "How urgent is it?";
    page.caption = "Raise a check";
    page.back = r.query.Get("change") == "1" ? "/checks/new/check" : "/checks/new/consent";
    page.errors = std::move(errors);
    std::vector<Choice> choices;
    for (const auto& t : Vocab().Terms(policy::Dimension::kUrgency)) {
      choices.push_back(
          {t.id, Humanise(t.id) + ": " + t.name,
           "Agencies answer within " + std::to_string(t.deadline_hours) + " working hours", ""});
    }
    const auto it = d.fields.find("urgency");
    std::string html = ChangeField(r);
    html += Radios({.name = "urgency",
                    .legend = "How urgent is it?",
                    .error = ErrorFor(page.errors, "urgency"),
                    .choices = choices,
                    .selected = {it == d.fields.end() ? "" : it->second},
                    .legend_is_heading = true});
    html += Button("Continue");
    page.heading_in_form = true;
    page.body = Form(r, "/checks/new/urgency", html);
    return Show(r, page);
  }

  Response AgenciesPage(const Request& r, const Draft& d, Errors errors) const {
    Page page;
    page.title = "Which agencies should be asked?";
    page.caption = "Raise a check";
    page.back = r.query.Get("change") == "1" ? "/checks/new/check" : "/checks/new/urgency";
    page.errors = std::move(errors);
    std::vector<Choice> choices;
    for (const auto& a : checks()->Agencies()) {
      const bool online = a.value("online", false);
      choices.push_back({Str(a, "id"), Str(a, "name"),
                         online ? "Connected" : "Not connected now: asked when it reconnects", ""});
    }
    std::vector<Choice> levels;
    for (int level = 0; level <= 3; ++level) {
      static const char* kHints[] = {"Only whether the agency knows the person",
                                     "Whether the agency is involved, and how",
                                     "A summary of what is relevant", "Specified records"};
      levels.push_back({std::to_string(level), Humanise(std::string(Vocab().LevelName(level))),
                        kHints[level], ""});
    }
    const auto lit = d.fields.find("level");
    std::string html = ChangeField(r);
    html += Checkboxes({.name = "agencies",
                        .legend = "Agencies",
                        .hint = "Select all that apply",
                        .error = ErrorFor(page.errors, "agencies"),
                        .choices = choices,
                        .selected = d.agencies});
    html += Radios({.name = "level",
                    .legend = "What to ask for",
                    .error = ErrorFor(page.errors, "level"),
                    .choices = levels,
                    .selected = {lit == d.fields.end() ? "2" : lit->second}});
    html += Button("Continue");
    page.body = Form(r, "/checks/new/agencies", html);
    return Show(r, page);
  }

  // The request the draft describes (validated by CheckService when raised).
  static nlohmann::json RequestOf(const Draft& d) {
    auto get = [&](const char* k) {
      auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    nlohmann::json subject = nlohmann::json::object();
    if (!get("given_names").empty()) subject["given_names"] = get("given_names");
    subject["family_name"] = get("family_name");
    if (!get("dob").empty()) subject["dob"] = get("dob");
    if (!get("sex").empty()) subject["sex"] = get("sex");
    if (!get("postcode").empty()) subject["postcodes"] = {get("postcode")};
    nlohmann::json ids = nlohmann::json::object();
    if (!get("nhs_number").empty()) ids["nhs_number"] = Digits(get("nhs_number"));
    if (!get("pnc_id").empty()) ids["pnc_id"] = get("pnc_id");
    if (!get("upn").empty()) ids["upn"] = get("upn");
    if (!ids.empty()) subject["identifiers"] = ids;
    nlohmann::json consent = {{"state", get("consent_state")}};
    if (get("consent_state") == "given") {
      consent["evidence_ref"] = get("evidence_ref");
    } else {
      consent["override_ground"] = get("override_ground");
      consent["justification"] = get("justification");
    }
    return {{"subject", subject},
            {"purpose", get("purpose")},
            {"lawful_basis", get("lawful_basis")},
            {"consent", consent},
            {"urgency", get("urgency")},
            {"level", std::stoi(get("level").empty() ? "2" : get("level"))},
            {"agencies", d.agencies}};
  }

  // The first question the draft has not answered, or "" when it is complete.
  static std::string Missing(const Draft& d) {
    auto has = [&](const char* k) {
      auto it = d.fields.find(k);
      return it != d.fields.end() && !it->second.empty();
    };
    if (!has("family_name")) return "/checks/new/subject";
    if (!has("purpose") || !has("lawful_basis")) return "/checks/new/purpose";
    if (!has("consent_state")) return "/checks/new/consent";
    if (d.fields.at("consent_state") != "given" &&
        (!has("override_ground") || !has("justification"))) {
      return "/checks/new/override";
    }
    if (!has("urgency")) return "/checks/new/urgency";
    if (d.agencies.empty()) return "/checks/new/agencies";
    return "";
  }

  Response CheckAnswersPage(const Request& r, const Draft& d, Errors errors) const {
    auto get = [&](const char* k) {
      auto it = d.fields.find(k);
      return it == d.fields.end() ? std::string() : it->second;
    };
    Page page;
    page.title = "Check your answers before raising the check";
    page.back = "/checks/new/agencies";
    page.errors = std::move(errors);
    std::string ids;
    if (!get("nhs_number").empty()) ids += "NHS number " + Escape(get("nhs_number")) + "<br>";
    if (!get("pnc_id").empty()) ids += "PNC ID " + Escape(get("pnc_id")) + "<br>";
    if (!get("upn").empty()) ids += "UPN " + Escape(get("upn")) + "<br>";
    const std::string change = "?change=1";
    std::vector<Row> subject = {
        {"Name", Escape(get("given_names") + " " + get("family_name")),
         "/checks/new/subject" + change, "", "name"},
        {"Date of birth", Escape(get("dob").empty() ? "Not given" : get("dob")),
         "/checks/new/subject" + change, "", "date of birth"},
        {"Sex", Escape(get("sex").empty() ? "Not given" : Humanise(get("sex"))),
         "/checks/new/subject" + change, "", "sex"},
        {"Postcode", Escape(get("postcode").empty() ? "Not given" : get("postcode")),
         "/checks/new/subject" + change, "", "postcode"},
        {"Identifiers", ids.empty() ? "None" : ids, "/checks/new/subject" + change, "",
         "identifiers"}};
    std::vector<Row> why = {
        {"Purpose", Escape(TermName(policy::Dimension::kPurpose, get("purpose"))),
         "/checks/new/purpose" + change, "", "purpose"},
        {"Lawful basis", Escape(TermName(policy::Dimension::kLawfulBasis, get("lawful_basis"))),
         "/checks/new/purpose" + change, "", "lawful basis"},
        {"Consent", Escape(Humanise(get("consent_state"))), "/checks/new/consent" + change, "",
         "consent"}};
    if (get("consent_state") == "given") {
      why.push_back({"Consent recorded in", Escape(get("evidence_ref")),
                     "/checks/new/consent" + change, "", "where consent is recorded"});
    } else {
      why.push_back({"Ground",
                     Escape(TermName(policy::Dimension::kOverrideGround, get("override_ground"))),
                     "/checks/new/override" + change, "", "ground"});
      why.push_back({"Justification", Escape(get("justification")), "/checks/new/override" + change,
                     "", "justification"});
    }
    std::string agencies;
    std::map<std::string, std::string> names;
    for (const auto& a : checks()->Agencies()) names[Str(a, "id")] = Str(a, "name");
    for (const auto& a : d.agencies) agencies += Escape(names.count(a) ? names[a] : a) + "<br>";
    std::vector<Row> ask = {
        {"Urgency", UrgencyTag(get("urgency")), "/checks/new/urgency" + change, "", "urgency"},
        {"Agencies", agencies, "/checks/new/agencies" + change, "", "agencies"},
        {"What to ask for",
         Escape(Humanise(
             std::string(Vocab().LevelName(std::stoi(get("level").empty() ? "2" : get("level")))))),
         "/checks/new/agencies" + change, "", "what to ask for"}};
    std::string html = Heading("The person") + SummaryList(subject) + Heading("Why") +
                       SummaryList(why) + Heading("What to ask") + SummaryList(ask);
    html += Heading("Now raise the check");
    html += Paragraph(get("consent_state") == "given"
                          ? "The agencies are asked at once. Your request and everything they "
                            "answer is recorded in the hub's audit trail."
                          : "The check waits for a manager of your team to authorise it. Your "
                            "request is recorded in the hub's audit trail.");
    html += Form(r, "/checks/new/check", Button("Raise check"));
    page.body = html;
    return Show(r, page);
  }

  // ---- Following a check ---------------------------------------------------------------------

  static std::string PartTimelineBy(const nlohmann::json& part) { return Str(part, "name"); }

  std::string TimelineOf(const nlohmann::json& c) const {
    struct Item {
      int64_t at;
      size_t order;  // what happened first comes first within a second
      TimelineItem item;
    };
    std::vector<Item> items;
    auto add = [&](const std::string& when, std::string title, std::string by, std::string html) {
      const int64_t t = ParseTime(when);
      if (t == 0) return;
      items.push_back(
          {t, items.size(), {std::move(title), std::move(by), FormatTime(t), std::move(html)}});
    };
    add(Str(c, "raised_at"), "Check raised", Str(c, "raised_by"),
        Paragraph(Humanise(Str(c, "urgency")) + " urgency, " + Str(c, "purpose_name")));
    if (c.contains("authorisation") && c["authorisation"].is_object()) {
      const auto& a = c["authorisation"];
      add(Str(a, "at"),
          Str(a, "decision") == "authorised" ? "Override authorised" : "Override rejected",
          Str(a, "by"), Paragraph(Str(a, "reason")));
    }
    for (const auto& p : c.value("agencies", nlohmann::json::array())) {
      add(Str(p, "sent_at"), "Sent to " + Str(p, "name"), "", "");
      add(Str(p, "chased_at"), Str(p, "name") + " chased", "the hub",
          Paragraph("Three quarters of the time allowed had passed without an answer."));
      if (p.contains("answer")) {
        std::string html;
        int shared = 0, withheld = 0, review = 0;
        for (const auto& cat : p["answer"].value("categories", nlohmann::json::array())) {
          const std::string o = Str(cat, "outcome");
          if (o == "shared" || o == "redacted") ++shared;
          if (o == "withheld") ++withheld;
          if (o == "review") ++review;
        }
        html = Paragraph(std::to_string(shared) + " shared, " + std::to_string(withheld) +
                         " withheld, " + std::to_string(review) + " with the custodian" +
                         (p.value("late", false) ? " (late)" : ""));
        add(Str(p, "answered_at"), Str(p, "name") + " answered", "", html);
      }
    }
    if (c.contains("decision") && c["decision"].is_object()) {
      const auto& d = c["decision"];
      add(Str(d, "at"), "MASH decision: " + Humanise(Str(d, "outcome")), Str(d, "by"),
          Paragraph(Str(d, "rationale")));
    }
    // Newest first.
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    });
    std::vector<TimelineItem> out;
    for (auto& i : items) out.push_back(std::move(i.item));
    return Timeline(out);
  }

  std::string AnswerCard(const nlohmann::json& p) const {
    std::vector<Row> rows;
    std::string state = StateTag(Str(p, "state"));
    if (p.value("overdue", false)) state += " " + Tag("Overdue", "red");
    if (p.value("breached", false)) state += " " + Tag("Deadline breached", "red");
    if (p.value("late", false)) state += " " + Tag("Late", "orange");
    rows.push_back({"State", state, "", "", ""});
    if (!Str(p, "sent_at").empty())
      rows.push_back({"Sent", Escape(TimeOf(p, "sent_at")), "", "", ""});
    if (!Str(p, "answered_at").empty()) {
      rows.push_back({"Answered", Escape(TimeOf(p, "answered_at")), "", "", ""});
    }
    std::string body;
    if (p.contains("answer")) {
      const auto& a = p["answer"];
      std::string match = Humanise(Str(a, "match"));
      if (a.contains("matched_on") && a["matched_on"].is_array() && !a["matched_on"].empty()) {
        std::string on;
        for (const auto& m : a["matched_on"]) on += (on.empty() ? "" : ", ") + m.get<std::string>();
        match += " (on " + on + ")";
      }
      rows.push_back({"Match", Escape(match), "", "", ""});
      rows.push_back({"Holds records", a.value("held", false) ? "Yes" : "No", "", "", ""});
      if (!Str(a, "source").empty())
        rows.push_back({"Source", Escape(Str(a, "source")), "", "", ""});
      rows.push_back({"Policy version",
                      "<code>" + Escape(Str(a, "policy_version").substr(0, 19)) + "</code>", "", "",
                      ""});
      Table t;
      t.head = {"Category", "Outcome", "What was shared", "Why"};
      for (const auto& cat : a.value("categories", nlohmann::json::array())) {
        std::string shared;
        if (!Str(cat, "summary").empty()) shared += Paragraph(Str(cat, "summary"), "govuk-body-s");
        if (cat.contains("records") && cat["records"].is_array()) {
          shared += "<ul class=\"govuk-list govuk-list--bullet govuk-body-s\">";
          for (const auto& rec : cat["records"]) {
            shared +=
                "<li>" + Escape(rec.is_string() ? rec.get<std::string>() : rec.dump()) + "</li>";
          }
          shared += "</ul>";
        }
        if (!Str(cat, "latest").empty()) {
          shared += Paragraph("Latest: " + Str(cat, "latest"), "govuk-body-s");
        }
        t.rows_html.push_back(
            {Escape(Str(cat, "name").empty() ? Str(cat, "category") : Str(cat, "name")),
             OutcomeTag(Str(cat, "outcome")), shared,
             "<span class=\"mash-wrap\">" + Escape(Str(cat, "why")) + "</span>"});
      }
      body = t.rows_html.empty() ? Paragraph("Nothing held in the categories asked for.")
                                 : RenderTable(t);
    } else if (p.contains("review")) {
      body = Paragraph("The agency's custodian is reviewing what may be shared.");
    }
    return "<div class=\"govuk-summary-card\"><div class=\"govuk-summary-card__title-wrapper\"><h3 "
           "class=\"govuk-summary-card__title\">" +
           Escape(Str(p, "name")) + "</h3></div><div class=\"govuk-summary-card__content\">" +
           SummaryList(rows) + body + "</div></div>";
  }

  Response CheckPage(const Request& r, const nlohmann::json& c, Errors errors, const Params& form,
                     std::string banner) const {
    Page page;
    const auto& s = c.value("subject", nlohmann::json::object());
    const std::string id = Str(c, "id");
    page.caption = "Check " + ShortRef(id);
    page.title = Str(s, "given_names") + " " + Str(s, "family_name");
    page.errors = std::move(errors);
    page.wide = true;
    page.active_nav = "/checks";
    page.back = "/checks";
    page.notification = std::move(banner);
    const std::string state = Str(c, "state");
    std::string html = "<p class=\"govuk-body\">" + StateTag(state) + " " +
                       UrgencyTag(Str(c, "urgency")) +
                       (c.value("overdue", false) ? " " + Tag("Overdue", "red") : "") + "</p>";
    for (const auto& n : c.value("note", nlohmann::json::array())) {
      if (n.is_string()) html += WarningText(n.get<std::string>());
    }

    // Authorisation, for a manager of the team who did not raise it.
    if (state == "awaiting_authorisation" && r.staff->role == "manager" &&
        Str(c, "raised_by") != r.staff->user) {
      std::string form_html =
          Radios({.name = "decision",
                  .legend = "Do you authorise sharing without consent?",
                  .error = ErrorFor(page.errors, "decision"),
                  .choices = {{"authorise", "Yes, authorise it", "The queries go out now", ""},
                              {"reject", "No, reject it", "Nothing is ever sent", ""}},
                  .selected = {form.Get("decision")}}) +
          Textarea({.name = "reason",
                    .label = "Reason",
                    .hint = "Recorded in the audit trail with your name",
                    .value = form.Get("reason"),
                    .error = ErrorFor(page.errors, "reason")},
                   3) +
          Button("Record authorisation");
      html += "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-two-thirds\">" +
              Heading("Authorise the override") +
              Form(r, "/checks/" + id + "/authorisation", form_html) + "</div></div>";
    } else if (state == "awaiting_authorisation") {
      html += InsetText(
          "<p class=\"govuk-body\">This check was raised without consent. It waits "
          "for a manager of the team (not the person who raised it) to authorise "
          "it. Nothing has been sent.</p>");
    }

    std::string dob = Str(s, "dob");
    std::string ids;
    const nlohmann::json identifiers = s.value("identifiers", nlohmann::json::object());
    for (const auto& [k, v] : identifiers.items()) {
      static const std::map<std::string, std::string> kNames = {{"nhs_number", "NHS number"},
                                                                {"pnc_id", "PNC ID"},
                                                                {"upn", "UPN"},
                                                                {"ni_number", "NI number"}};
      const auto name = kNames.find(k);
      ids += Escape((name == kNames.end() ? Humanise(k) : name->second) + " " +
                    (v.is_string() ? v.get<std::string>() : std::string())) +
             "<br>";
    }
    std::vector<Row> about = {
        {"Date of birth", Escape(dob.empty() ? "Not given" : dob), "", "", ""},
        {"Identifiers", ids.empty() ? "None" : ids, "", "", ""},
        {"Purpose", Escape(Str(c, "purpose_name")), "", "", ""},
        {"Lawful basis", Escape(TermName(policy::Dimension::kLawfulBasis, Str(c, "lawful_basis"))),
         "", "", ""},
        {"Consent", Escape(Humanise(Str(c, "consent").substr(0, Str(c, "consent").find(';')))), "",
         "", ""}};
    if (c.contains("override")) {
      about.push_back({"Ground", Escape(Str(c["override"], "ground_name")), "", "", ""});
      about.push_back({"Justification", Escape(Str(c["override"], "justification")), "", "", ""});
    }
    if (!Str(c, "consent_evidence").empty()) {
      about.push_back({"Consent recorded in", Escape(Str(c, "consent_evidence")), "", "", ""});
    }
    about.push_back(
        {"Raised", Escape(TimeOf(c, "raised_at") + " by " + Str(c, "raised_by")), "", "", ""});
    if (!Str(c, "due_at").empty()) {
      about.push_back({"Due",
                       Escape(TimeOf(c, "due_at")) +
                           (c.value("overdue", false) ? " " + Tag("Overdue", "red") : ""),
                       "", "", ""});
    }
    html += "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-two-thirds\">" +
            Heading("About the check") + SummaryList(about) + "</div></div>";

    html += Heading("Agency answers");
    const auto parts = c.value("agencies", nlohmann::json::array());
    if (parts.empty()) html += Paragraph("No agencies were asked.");
    for (const auto& p : parts) html += AnswerCard(p);

    html += "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-two-thirds\">";
    if (c.contains("decision") && c["decision"].is_object()) {
      const auto& d = c["decision"];
      html +=
          Heading("MASH decision") +
          SummaryList({{"Outcome", Escape(Humanise(Str(d, "outcome"))), "", "", ""},
                       {"Rationale", Escape(Str(d, "rationale")), "", "", ""},
                       {"Recorded", Escape(TimeOf(d, "at") + " by " + Str(d, "by")), "", "", ""}});
    } else if (state != "awaiting_authorisation" && state != "rejected") {
      std::vector<Choice> outcomes;
      for (const auto& o : kMashOutcomes)
        outcomes.push_back({std::string(o), Humanise(std::string(o)), "", ""});
      const std::string form_html =
          Radios({.name = "outcome",
                  .legend = "Outcome",
                  .error = ErrorFor(page.errors, "outcome"),
                  .choices = outcomes,
                  .selected = {form.Get("outcome")}}) +
          Textarea({.name = "rationale",
                    .label = "Rationale",
                    .hint = "10 to 4000 characters. Recording the decision closes the check: "
                            "answers that come later are refused.",
                    .value = form.Get("rationale"),
                    .error = ErrorFor(page.errors, "rationale")},
                   5) +
          Button("Record decision");
      html +=
          Heading("Record the MASH decision") + Form(r, "/checks/" + id + "/decision", form_html);
    }
    html += Heading("Timeline") + TimelineOf(c) + "</div></div>";
    page.body = html;
    return PageResponse(r, page, service(), page.errors.empty() ? 200 : 400);
  }

  // Shows check `id` (audited by CheckService) with `errors` and the form as sent.
  void ShowCheck(const Request& r, const std::string& id, Errors errors, std::string banner,
                 Reply reply) const {
    const CheckPages self = *this;
    checks()->Show(id, *r.staff,
                   [self, r, errors, banner, reply](Result<nlohmann::json> c) mutable {
                     if (!c.ok()) {
                       if (c.status().code() == StatusCode::kNotFound) {
                         return reply(NotFoundPage(r, self.service()));
                       }
                       common::LogError("console.show_failed", {{"error", c.status().message()}});
                       return reply(ProblemPage(r, self.service()));
                     }
                     try {
                       reply(self.CheckPage(r, *c, std::move(errors), r.form, std::move(banner)));
                     } catch (const std::exception& e) {
                       common::LogError("console.page_failed", {{"error", e.what()}});
                       reply(ProblemPage(r, self.service()));
                     }
                   });
  }

  Response ListPage(const Request& r, const nlohmann::json& listed, const std::string& filter,
                    bool deadlines) const {
    Page page;
    page.title = deadlines ? "Team deadlines" : "Checks";
    page.wide = true;
    std::string html;
    const auto all = listed.value("checks", nlohmann::json::array());
    if (deadlines) {
      int open = 0, overdue = 0, breaches = 0, awaiting = 0, due_today = 0;
      const int64_t now = NowUnix();
      for (const auto& c : all) {
        if (Str(c, "state") == "closed" || Str(c, "state") == "rejected") continue;
        ++open;
        if (c.value("overdue", false)) ++overdue;
        breaches += c.value("breaches", 0);
        if (Str(c, "state") == "awaiting_authorisation") ++awaiting;
        const int64_t due = ParseTime(Str(c, "due_at"));
        if (due > now && due - now < 24 * 3600) ++due_today;
      }
      auto panel = [](const std::string& label, int n, const std::string& href) {
        return "<div class=\"govuk-grid-column-one-quarter\"><p class=\"govuk-body\"><span "
               "class=\"govuk-heading-xl govuk-!-margin-bottom-1\">" +
               std::to_string(n) + "</span>" + Link(href, label) + "</p></div>";
      };
      html += "<div class=\"govuk-grid-row\">" + panel("open checks", open, "/checks?state=open") +
              panel("overdue", overdue, "/checks?state=overdue") +
              panel("due within 24 hours", due_today, "/deadlines") +
              panel("awaiting authorisation", awaiting, "/checks?state=awaiting_authorisation") +
              "</div>";
      html += Paragraph(std::to_string(breaches) + " agency deadline" + (breaches == 1 ? "" : "s") +
                        " breached on open checks.");
    } else {
      const std::string filter_form =
          "<form method=\"get\" action=\"/checks\" novalidate>" +
          Select({.name = "state",
                  .legend = "Show",
                  .choices = {{"", "All checks", "", ""},
                              {"open", "Open", "", ""},
                              {"overdue", "Overdue", "", ""},
                              {"awaiting_authorisation", "Awaiting authorisation", "", ""},
                              {"closed", "Closed", "", ""}},
                  .selected = {filter}}) +
          Button("Apply filter", "govuk-button--secondary") + "</form>";
      html += filter_form;
    }
    Table t;
    t.caption = deadlines ? "Open checks by due time" : "";
    t.sortable = true;
    t.head = {"Reference", "Raised", "Urgency", "State", "Due", "Agencies", "Raised by"};
    std::vector<nlohmann::json> rows(all.begin(), all.end());
    if (deadlines) {
      std::erase_if(rows, [](const nlohmann::json& c) {
        return Str(c, "state") == "closed" || Str(c, "state") == "rejected";
      });
      std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return Str(a, "due_at") < Str(b, "due_at");
      });
    }
    for (const auto& c : rows) {
      const std::string id = Str(c, "id");
      std::string state = StateTag(Str(c, "state"));
      if (c.value("overdue", false)) state += " " + Tag("Overdue", "red");
      if (c.value("override", false)) state += " " + Tag("Override", "yellow");
      const int n = c.value("agencies", 0);
      const int open = c.value("open_parts", 0);
      std::string agencies = std::to_string(n - open) + " of " + std::to_string(n) + " answered";
      if (c.value("breaches", 0) > 0) {
        agencies += " " + Tag(std::to_string(c.value("breaches", 0)) + " breached", "red");
      }
      t.rows_html.push_back({Link("/checks/" + id, ShortRef(id), "govuk-link--no-visited-state"),
                             Escape(TimeOf(c, "raised_at")), UrgencyTag(Str(c, "urgency")), state,
                             Escape(TimeOf(c, "due_at")), agencies, Escape(Str(c, "raised_by"))});
    }
    html += t.rows_html.empty() ? Paragraph("There are no checks to show.") : RenderTable(t);
    page.body = html;
    return Show(r, page);
  }
};

}  // namespace

void AddCheckPages(Router& router, Context& context) {
  auto drafts = std::make_shared<Drafts>(context.options.draft_idle);
  const CheckPages pages{&context, drafts};
  auto previous = context.forget_session;
  context.forget_session = [drafts, previous](const std::string& key) {
    drafts->Forget(key);
    if (previous) previous(key);
  };

  router.Get("/checks", kTeamRoles, [pages](const Request& r, Reply reply) {
    std::string filter = r.query.Get("state");
    static const std::set<std::string> kFilters = {"", "open", "overdue", "awaiting_authorisation",
                                                   "closed"};
    if (kFilters.count(filter) == 0) filter.clear();
    auto listed = pages.checks()->List(*r.staff, filter);
    if (!listed.ok()) return reply(ProblemPage(r, pages.service()));
    reply(pages.ListPage(r, *listed, filter, false));
  });
  router.Get("/deadlines", {"manager"}, [pages](const Request& r, Reply reply) {
    auto listed = pages.checks()->List(*r.staff, "");
    if (!listed.ok()) return reply(ProblemPage(r, pages.service()));
    reply(pages.ListPage(r, *listed, "", true));
  });

  // Raising.
  router.Get("/checks/new", kTeamRoles,
             [pages](const Request& r, Reply reply) { reply(pages.StartPage(r)); });
  router.Post("/checks/new", kTeamRoles, [pages](const Request& r, Reply reply) {
    pages.drafts->Start(r.session_key);
    reply(Redirect("/checks/new/subject"));
  });

  // A question page: GET shows it from the draft, POST saves and validates its answers.
  using Render = std::function<Response(const CheckPages&, const Request&, const Draft&, Errors)>;
  using Save = std::function<std::string(const CheckPages&, const Request&, Draft&, Errors&)>;
  auto question = [&router, pages](const std::string& path, Render render, Save save) {
    router.Get(path, kTeamRoles, [pages, render](const Request& r, Reply reply) {
      Draft* d = pages.DraftOf(r);
      if (d == nullptr) return reply(Redirect("/checks/new"));
      reply(render(pages, r, *d, {}));
    });
    router.Post(path, kTeamRoles, [pages, render, save](const Request& r, Reply reply) {
      Draft* d = pages.DraftOf(r);
      if (d == nullptr) return reply(Redirect("/checks/new"));
      Errors errors;
      const std::string next = save(pages, r, *d, errors);
      if (!errors.empty()) {
        Request again = r;
        if (r.form.Get("change") == "1") again.query = *Params::Parse("change=1");
        return reply(render(pages, again, *d, std::move(errors)));
      }
      reply(Redirect(CheckPages::Next(r, next)));
    });
  };

  question(
      "/checks/new/subject",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.SubjectPage(r, d, std::move(e));
      },
      [](const CheckPages& p, const Request& r, Draft& d, Errors& e) {
        e = p.SaveSubject(r, d);
        return std::string("/checks/new/purpose");
      });
  question(
      "/checks/new/purpose",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.PurposePage(r, d, std::move(e));
      },
      [](const CheckPages&, const Request& r, Draft& d, Errors& e) {
        d.fields["purpose"] = r.form.Get("purpose");
        d.fields["lawful_basis"] = r.form.Get("lawful_basis");
        if (!IsTerm(policy::Dimension::kPurpose, d.fields["purpose"])) {
          e.push_back({"purpose", "Select the purpose of the check"});
        }
        if (!IsTerm(policy::Dimension::kLawfulBasis, d.fields["lawful_basis"])) {
          e.push_back({"lawful_basis", "Select the lawful basis"});
        }
        return std::string("/checks/new/consent");
      });
  question(
      "/checks/new/consent",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.ConsentPage(r, d, std::move(e));
      },
      [](const CheckPages&, const Request& r, Draft& d, Errors& e) {
        const std::string state = r.form.Get("consent_state");
        d.fields["consent_state"] = state;
        d.fields["evidence_ref"] = r.form.Get("evidence_ref");
        if (state != "given" && state != "refused" && state != "withdrawn" &&
            state != "not_sought") {
          e.push_back({"consent_state", "Select whether the person has given consent"});
          return std::string();
        }
        if (state == "given") {
          if (d.fields["evidence_ref"].empty()) {
            e.push_back({"evidence_ref", "Enter where the consent is recorded"});
          } else if (d.fields["evidence_ref"].size() > 200) {
            e.push_back({"evidence_ref",
                         "Where the consent is recorded must be 200 characters "
                         "or fewer"});
          }
          return std::string("/checks/new/urgency");
        }
        // Without consent the override page comes next, even when changing an answer.
        return std::string("/checks/new/override");
      });
  question(
      "/checks/new/override",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.OverridePage(r, d, std::move(e));
      },
      [](const CheckPages&, const Request& r, Draft& d, Errors& e) {
        d.fields["override_ground"] = r.form.Get("override_ground");
        d.fields["justification"] = r.form.Get("justification");
        if (!IsTerm(policy::Dimension::kOverrideGround, d.fields["override_ground"])) {
          e.push_back({"override_ground", "Select the ground for going ahead without consent"});
        }
        const size_t n = d.fields["justification"].size();
        if (n == 0) {
          e.push_back({"justification", "Enter the justification"});
        } else if (n < 10 || n > 4000) {
          e.push_back({"justification", "Justification must be between 10 and 4000 characters"});
        }
        return std::string("/checks/new/urgency");
      });
  question(
      "/checks/new/urgency",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.UrgencyPage(r, d, std::move(e));
      },
      [](const CheckPages&, const Request& r, Draft& d, Errors& e) {
        d.fields["urgency"] = r.form.Get("urgency");
        if (!IsTerm(policy::Dimension::kUrgency, d.fields["urgency"])) {
          e.push_back({"urgency", "Select how urgent the check is"});
        }
        return std::string("/checks/new/agencies");
      });
  question(
      "/checks/new/agencies",
      [](const CheckPages& p, const Request& r, const Draft& d, Errors e) {
        return p.AgenciesPage(r, d, std::move(e));
      },
      [](const CheckPages& p, const Request& r, Draft& d, Errors& e) {
        std::set<std::string> known;
        for (const auto& a : p.checks()->Agencies()) known.insert(Str(a, "id"));
        d.agencies.clear();
        for (const auto& a : r.form.All("agencies")) {
          if (known.count(a) != 0 &&
              std::find(d.agencies.begin(), d.agencies.end(), a) == d.agencies.end()) {
            d.agencies.push_back(a);
          }
        }
        if (d.agencies.empty()) e.push_back({"agencies", "Select at least one agency"});
        const std::string level = r.form.Get("level");
        d.fields["level"] = level;
        if (level.size() != 1 || level[0] < '0' || level[0] > '3') {
          e.push_back({"level", "Select what to ask for"});
        }
        return std::string("/checks/new/check");
      });

  router.Get("/checks/new/check", kTeamRoles, [pages](const Request& r, Reply reply) {
    Draft* d = pages.DraftOf(r);
    if (d == nullptr) return reply(Redirect("/checks/new"));
    if (const std::string missing = CheckPages::Missing(*d); !missing.empty()) {
      return reply(Redirect(missing));
    }
    reply(pages.CheckAnswersPage(r, *d, {}));
  });
  router.Post("/checks/new/check", kTeamRoles, [pages](const Request& r, Reply reply) {
    Draft* d = pages.DraftOf(r);
    if (d == nullptr) return reply(Redirect("/checks/new"));
    if (const std::string missing = CheckPages::Missing(*d); !missing.empty()) {
      return reply(Redirect(missing));
    }
    auto request = RaiseRequest::FromJson(CheckPages::RequestOf(*d));
    if (!request.ok()) {
      // The question pages check every field, so this is a rule only the service knows.
      return reply(pages.CheckAnswersPage(
          r, *d, {{"", "The check could not be raised: " + request.status().message()}}));
    }
    const std::string key = r.session_key;
    pages.checks()->Raise(*request, *r.staff, [pages, r, key, reply](Result<nlohmann::json> c) {
      Draft* draft = pages.DraftOf(r);
      if (c.ok()) {
        pages.drafts->Forget(key);
        return reply(Redirect("/checks/" + Str(*c, "id") + "?raised=1"));
      }
      if (draft == nullptr) return reply(Redirect("/checks/new"));
      switch (c.status().code()) {
        case StatusCode::kPermissionDenied:
          return reply(pages.CheckAnswersPage(
              r, *draft,
              {{"", "The hub's sharing agreement does not allow this check: " +
                        c.status().message()}}));
        case StatusCode::kResourceExhausted:
          return reply(pages.CheckAnswersPage(
              r, *draft, {{"", "The hub has too many open checks. Try again later."}}));
        case StatusCode::kInvalidArgument:
          return reply(pages.CheckAnswersPage(
              r, *draft, {{"", "The check could not be raised: " + c.status().message()}}));
        default:
          common::LogError("console.raise_failed", {{"error", c.status().message()}});
          return reply(ProblemPage(r, pages.service()));
      }
    });
  });

  // A check, its authorisation and its decision.
  router.Get("/checks/([0-9a-f]{32})", kTeamRoles, [pages](const Request& r, Reply reply) {
    std::string banner;
    if (r.query.Get("raised") == "1") {
      banner = "<p class=\"govuk-notification-banner__heading\">Check raised</p>";
    } else if (r.query.Get("authorised") == "1") {
      banner = "<p class=\"govuk-notification-banner__heading\">Authorisation recorded</p>";
    } else if (r.query.Get("decided") == "1") {
      banner =
          "<p class=\"govuk-notification-banner__heading\">Decision recorded: the check is "
          "closed</p>";
    }
    pages.ShowCheck(r, r.params[0], {}, banner, reply);
  });
  router.Post(
      "/checks/([0-9a-f]{32})/authorisation", {"manager"}, [pages](const Request& r, Reply reply) {
        const std::string id = r.params[0];
        const std::string decision = r.form.Get("decision");
        const std::string reason = r.form.Get("reason");
        Errors errors;
        if (decision != "authorise" && decision != "reject") {
          errors.push_back({"decision", "Select whether you authorise the override"});
        }
        if (reason.empty()) errors.push_back({"reason", "Enter the reason"});
        if (!errors.empty()) return pages.ShowCheck(r, id, errors, "", reply);
        pages.checks()->Authorise(
            id, *r.staff, decision == "authorise", reason,
            [pages, r, id, reply](Result<nlohmann::json> c) {
              if (c.ok()) return reply(Redirect("/checks/" + id + "?authorised=1"));
              switch (c.status().code()) {
                case StatusCode::kNotFound:
                  return reply(NotFoundPage(r, pages.service()));
                case StatusCode::kPermissionDenied:
                case StatusCode::kFailedPrecondition:
                case StatusCode::kInvalidArgument:
                  return pages.ShowCheck(r, id, {{"decision", c.status().message()}}, "", reply);
                default:
                  return reply(ProblemPage(r, pages.service()));
              }
            });
      });
  router.Post(
      "/checks/([0-9a-f]{32})/decision", kTeamRoles, [pages](const Request& r, Reply reply) {
        const std::string id = r.params[0];
        const std::string outcome = r.form.Get("outcome");
        const std::string rationale = r.form.Get("rationale");
        Errors errors;
        if (std::find(kMashOutcomes.begin(), kMashOutcomes.end(), outcome) == kMashOutcomes.end()) {
          errors.push_back({"outcome", "Select the outcome of the MASH decision"});
        }
        if (rationale.empty()) {
          errors.push_back({"rationale", "Enter the rationale"});
        } else if (rationale.size() < 10 || rationale.size() > 4000) {
          errors.push_back({"rationale",
                            "Rationale must be between 10 and 4000 "
                            "characters"});
        }
        if (!errors.empty()) return pages.ShowCheck(r, id, errors, "", reply);
        pages.checks()->Decide(
            id, *r.staff, outcome, rationale, [pages, r, id, reply](Result<nlohmann::json> c) {
              if (c.ok()) return reply(Redirect("/checks/" + id + "?decided=1"));
              switch (c.status().code()) {
                case StatusCode::kNotFound:
                  return reply(NotFoundPage(r, pages.service()));
                case StatusCode::kPermissionDenied:
                case StatusCode::kFailedPrecondition:
                case StatusCode::kInvalidArgument:
                  return pages.ShowCheck(r, id, {{"outcome", c.status().message()}}, "", reply);
                default:
                  return reply(ProblemPage(r, pages.service()));
              }
            });
      });
}

}  // namespace mash::broker::console
