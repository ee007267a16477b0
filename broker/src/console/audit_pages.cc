// IG officers' and DPOs' pages over the audit trail (docs/console.md "IG officers"): search,
// one event, verify a range, export, and the per-subject disclosure report. Everything goes
// through AuditReader, which refuses other roles, records every read and reads on its own
// thread. A subject identifier is only ever sent in a POST body: the page answers 303 to a URL
// naming the subject by its keyed pseudonym.
#include <charconv>
#include <chrono>

#include "console/page.h"
#include "mash/audit/event.h"
#include "mash/broker/audit_reader.h"
#include "mash/common/clock.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"

namespace mash::broker::console {
namespace {

const std::set<std::string> kRoles = {"ig_officer", "dpo"};

const std::vector<std::pair<std::string, std::string>>& KindNames() {
  static const std::vector<std::pair<std::string, std::string>> kinds = {
      {"nhs_number", "NHS number"},
      {"pnc_id", "PNC ID"},
      {"upn", "Unique pupil number (UPN)"},
      {"ni_number", "National Insurance number"},
      {"name_dob", "Family name, given names and date of birth"}};
  return kinds;
}

bool ValidPseudonym(std::string_view p) {
  if (!p.starts_with("ps1:") || p.size() != 4 + 64) return false;
  return p.substr(4).find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::optional<uint64_t> ParseSeq(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Days since 1970-01-01 of a valid civil date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct DateParts {
  std::string day, month, year;
  bool empty() const { return day.empty() && month.empty() && year.empty(); }
};

// Unix milliseconds of 00:00 UTC of the date, or nullopt when it is not a real date.
std::optional<int64_t> DateMs(const DateParts& d) {
  auto num = [](const std::string& s) -> std::optional<int> {
    int v = 0;
    if (s.empty() || s.size() > 4) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
  };
  const auto day = num(d.day), month = num(d.month), year = num(d.year);
  if (!day || !month || !year || *year < 2000 || *year > 2999 || *month < 1 || *month > 12 ||
      *day < 1) {
    return std::nullopt;
  }
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  if (*day > kDays[*month - 1] + (*month == 2 && leap ? 1 : 0)) return std::nullopt;
  return DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) *
         86400000;
}

// "YYYY-MM-DD" <-> parts, for the query string of a search.
DateParts PartsOf(std::string_view iso) {
  DateParts p;
  if (iso.size() == 10 && iso[4] == '-' && iso[7] == '-') {
    p.year = std::string(iso.substr(0, 4));
    p.month = std::string(iso.substr(5, 2));
    p.day = std::string(iso.substr(8, 2));
  } else if (!iso.empty()) {
    p.day = "?";  // not a date: shown as an error
  }
  return p;
}

std::string IsoOf(int64_t ms) {
  return common::FormatRfc3339(common::TimePoint(std::chrono::milliseconds(ms))).substr(0, 10);
}

std::string TimeOf(int64_t ms) { return FormatTime(ms / 1000); }

// The search form's fields, as typed (POST) or as carried in the query string (GET).
struct SearchForm {
  std::string subject_kind, subject_value, person, agency, purpose, type, outcome;
  DateParts from, to;
};

struct ParsedSearch {
  audit::QueryFilter filter;
  Errors errors;
};

// Checks the fields and builds the filter. The subject value is only turned into a pseudonym
// here (POST); in a query string it is already one.
ParsedSearch ParseSearch(const SearchForm& f, const AuditReader& reader) {
  ParsedSearch out;
  auto opt = [](const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string>(s);
  };
  if (!f.subject_kind.empty() || !f.subject_value.empty()) {
    if (f.subject_kind.empty()) {
      out.errors.push_back({"subject_kind", "Choose the kind of identifier"});
    } else if (f.subject_value.empty()) {
      out.errors.push_back({"subject_value", "Enter the identifier"});
    } else if (f.subject_kind == "pseudonym") {
      if (!ValidPseudonym(f.subject_value)) {
        out.errors.push_back(
            {"subject_value", "Enter a pseudonym like ps1: followed by 64 hexadecimal digits"});
      } else {
        out.filter.subject = f.subject_value;
      }
    } else {
      auto p = reader.SubjectPseudonym(f.subject_kind, f.subject_value);
      if (!p.ok()) {
        const bool kind = p.status().message().starts_with("/kind");
        out.errors.push_back({kind ? "subject_kind" : "subject_value",
                              kind ? "Choose the kind of identifier"
                                   : "Enter the identifier, at most 200 characters"});
      } else {
        out.filter.subject = *p;
      }
    }
  }
  auto bounded = [&](const std::string& v, const char* field, const char* name) {
    if (v.size() > 200) {
      out.errors.push_back({field, std::string(name) + " must be 200 characters or fewer"});
      return std::optional<std::string>();
    }
    return opt(v);
  };
  out.filter.person = bounded(f.person, "person", "User ID");
  out.filter.agency = bounded(f.agency, "agency", "Agency");
  out.filter.purpose = bounded(f.purpose, "purpose", "Purpose");
  if (!f.type.empty()) {
    out.filter.type = audit::ParseEventType(f.type);
    if (!out.filter.type) out.errors.push_back({"type", "Choose an event type from the list"});
  }
  if (!f.outcome.empty()) {
    out.filter.outcome = audit::ParseOutcome(f.outcome);
    if (!out.filter.outcome) out.errors.push_back({"outcome", "Choose an outcome from the list"});
  }
  if (!f.from.empty()) {
    out.filter.from_ms = DateMs(f.from);
    if (!out.filter.from_ms) out.errors.push_back({"from-day", "Enter a real date for From"});
  }
  if (!f.to.empty()) {
    auto to = DateMs(f.to);
    if (!to) {
      out.errors.push_back({"to-day", "Enter a real date for To"});
    } else {
      out.filter.to_ms = *to + 86400000;  // the whole of the last day
    }
  }
  if (out.filter.from_ms && out.filter.to_ms && *out.filter.to_ms <= *out.filter.from_ms) {
    out.errors.push_back({"to-day", "To must be the same as or after From"});
  }
  return out;
}

// The query string of a valid search (subject as its pseudonym, dates as YYYY-MM-DD).
std::string SearchQuery(const audit::QueryFilter& f) {
  std::string q;
  auto add = [&](const char* name, const std::string& value) {
    q += (q.empty() ? "" : "&") + std::string(name) + "=" + UrlEncode(value);
  };
  if (f.subject) add("subject", *f.subject);
  if (f.person) add("person", *f.person);
  if (f.agency) add("agency", *f.agency);
  if (f.purpose) add("purpose", *f.purpose);
  if (f.type) add("type", std::string(audit::EventTypeName(*f.type)));
  if (f.outcome) add("outcome", std::string(audit::OutcomeName(*f.outcome)));
  if (f.from_ms) add("from", IsoOf(*f.from_ms));
  if (f.to_ms) add("to", IsoOf(*f.to_ms - 86400000));
  return q;
}

std::string SearchFormHtml(const Request& r, const SearchForm& f, const Errors& errors) {
  ChoiceGroup kind{.name = "subject_kind", .legend = "Kind of identifier"};
  kind.choices.push_back({"", "None"});
  for (const auto& [k, name] : KindNames()) kind.choices.push_back({k, name});
  kind.choices.push_back({"pseudonym", "Pseudonym (ps1:...)"});
  kind.selected = {f.subject_kind};
  kind.error = ErrorFor(errors, "subject_kind");
  ChoiceGroup type{.name = "type", .legend = "Event"};
  type.choices.push_back({"", "Any"});
  for (const auto t : audit::AllEventTypes()) {
    const std::string name(audit::EventTypeName(t));
    type.choices.push_back({name, name});
  }
  type.selected = {f.type};
  type.error = ErrorFor(errors, "type");
  ChoiceGroup outcome{.name = "outcome", .legend = "Outcome"};
  outcome.choices.push_back({"", "Any"});
  for (const char* o : {"ok", "refused", "failed", "rejected", "withheld", "partial"}) {
    outcome.choices.push_back({o, o});
  }
  outcome.selected = {f.outcome};
  outcome.error = ErrorFor(errors, "outcome");
  ChoiceGroup from{.name = "from", .legend = "From", .hint = "For example, 27 3 2026"};
  from.error = ErrorFor(errors, "from-day");
  ChoiceGroup to{.name = "to", .legend = "To", .hint = "Up to the end of this day"};
  to.error = ErrorFor(errors, "to-day");
  const std::string subject =
      "<fieldset class=\"govuk-fieldset\"><legend class=\"govuk-fieldset__legend "
      "govuk-fieldset__legend--s\">Subject</legend>" +
      Select(kind) +
      TextInput({.name = "subject_value",
                 .label = "Identifier",
                 .hint = "Sent to the hub only to make its pseudonym; never put in a web address",
                 .value = f.subject_kind == "pseudonym" ? f.subject_value : "",
                 .error = ErrorFor(errors, "subject_value"),
                 .autocomplete = "off"}) +
      "</fieldset>";
  auto column = [](const std::string& inner) {
    return "<div class=\"govuk-grid-column-one-third\">" + inner + "</div>";
  };
  const std::string html =
      "<div class=\"govuk-grid-row\">" + column(subject) +
      column(TextInput({.name = "person",
                        .label = "User ID",
                        .value = f.person,
                        .error = ErrorFor(errors, "person"),
                        .classes = "govuk-!-width-full"}) +
             TextInput({.name = "agency",
                        .label = "Agency",
                        .hint = "For example, police",
                        .value = f.agency,
                        .error = ErrorFor(errors, "agency"),
                        .classes = "govuk-!-width-full"}) +
             TextInput({.name = "purpose",
                        .label = "Purpose",
                        .hint = "For example, child-protection-s47",
                        .value = f.purpose,
                        .error = ErrorFor(errors, "purpose"),
                        .classes = "govuk-!-width-full"})) +
      column(Select(type) + Select(outcome)) + "</div><div class=\"govuk-grid-row\">" +
      column(DateInput(from, f.from.day, f.from.month, f.from.year)) +
      column(DateInput(to, f.to.day, f.to.month, f.to.year)) + "</div>" + Button("Search");
  return Form(r, "/audit", html);
}

std::string Outcome(audit::Outcome o) {
  const std::string name(audit::OutcomeName(o));
  if (o == audit::Outcome::kOk) return Tag(name, "green");
  if (o == audit::Outcome::kPartial || o == audit::Outcome::kWithheld) return Tag(name, "yellow");
  return Tag(name, "red");
}

std::string ResultsTable(const std::vector<audit::AuditEvent>& events) {
  Table t;
  t.caption = "Events, newest first";
  t.head = {"Entry", "Time", "Event", "Outcome", "Who", "Agency", "Check", "Purpose"};
  t.sortable = true;
  t.numeric = {true, false, false, false, false, false, false, false};
  for (const auto& e : events) {
    t.rows_html.push_back({Link("/audit/events/" + std::to_string(e.seq), std::to_string(e.seq)),
                           Escape(TimeOf(e.time_ms)), Escape(audit::EventTypeName(e.type)),
                           Outcome(e.outcome),
                           Escape(e.person) + (e.role.empty() ? "" : " (" + Escape(e.role) + ")"),
                           Escape(e.agency), Escape(e.check_ref), Escape(e.purpose)});
  }
  return RenderTable(t);
}

Response ReadFailed(const Request& r, const Context& c, const Status& s) {
  if (s.code() == StatusCode::kResourceExhausted) {
    Page page;
    page.title = "The audit trail is busy";
    page.body =
        Paragraph("Too many requests to the audit trail are running. Try again in a minute.");
    return PageResponse(r, page, c.options.service_name, 503);
  }
  if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kNotFound) {
    return NotFoundPage(r, c.options.service_name);
  }
  common::LogError("console.audit_failed", {{"error", s.ToString()}});
  return ProblemPage(r, c.options.service_name);
}

std::string Hex(const common::Bytes& b) { return common::HexEncode(b); }

std::string HexHash(const audit::Hash& h) { return common::HexEncode(h); }

void AddSearchPages(Router& router, Context& c) {
  auto render = [&c](const Request& r, const SearchForm& f, const Errors& errors,
                     const std::string& results, int status) {
    Page page;
    page.title = "Search the audit trail";
    page.errors = errors;
    page.wide = true;
    page.active_nav = "/audit";
    page.body = Paragraph(
                    "Every search is itself recorded in the audit trail. Give any of the "
                    "filters; events match all of them.") +
                SearchFormHtml(r, f, errors) + results;
    return PageResponse(r, page, c.options.service_name, status);
  };
  router.Post("/audit", kRoles, [&c, render](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    SearchForm f{r.form.Get("subject_kind"),
                 r.form.Get("subject_value"),
                 r.form.Get("person"),
                 r.form.Get("agency"),
                 r.form.Get("purpose"),
                 r.form.Get("type"),
                 r.form.Get("outcome"),
                 {r.form.Get("from-day"), r.form.Get("from-month"), r.form.Get("from-year")},
                 {r.form.Get("to-day"), r.form.Get("to-month"), r.form.Get("to-year")}};
    ParsedSearch parsed = ParseSearch(f, *c.services.audit);
    if (!parsed.errors.empty()) {
      f.subject_value = f.subject_kind == "pseudonym" ? f.subject_value : "";  // not echoed
      return reply(render(r, f, parsed.errors, "", 400));
    }
    const std::string q = SearchQuery(parsed.filter);
    reply(Redirect("/audit" + (q.empty() ? std::string("?all=1") : "?" + q)));
  });
  router.Get("/audit", kRoles, [&c, render](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    const auto& q = r.query;
    SearchForm f{q.Has("subject") ? "pseudonym" : "",
                 q.Get("subject"),
                 q.Get("person"),
                 q.Get("agency"),
                 q.Get("purpose"),
                 q.Get("type"),
                 q.Get("outcome"),
                 PartsOf(q.Get("from")),
                 PartsOf(q.Get("to"))};
    const bool searched = !q.items().empty();
    if (!searched) return reply(render(r, f, {}, "", 200));
    ParsedSearch parsed = ParseSearch(f, *c.services.audit);
    if (!parsed.errors.empty()) return reply(render(r, f, parsed.errors, "", 400));
    if (q.Has("before")) {
      parsed.filter.before_seq = ParseSeq(q.Get("before"));
      if (!parsed.filter.before_seq) return reply(NotFoundPage(r, c.options.service_name));
    }
    const audit::QueryFilter filter = parsed.filter;
    c.services.audit->Search(
        *r.staff, filter, [&c, r, f, filter, render, reply](Result<AuditSearchPage> page) {
          if (!page.ok()) return reply(ReadFailed(r, c, page.status()));
          std::string results = Heading("Results");
          const size_t n = page->events.size();
          if (page->events.empty()) {
            results += Paragraph("No events match.");
          } else {
            results += Paragraph(std::to_string(n) + (n == 1 ? " event" : " events") +
                                 (page->more ? " shown; older ones match too." : ".")) +
                       ResultsTable(page->events);
          }
          if (page->more) {
            const std::string query = SearchQuery(filter);
            results +=
                "<nav class=\"govuk-pagination govuk-pagination--block\" "
                "aria-label=\"Results pages\"><div class=\"govuk-pagination__next\">" +
                Link("/audit?" + (query.empty() ? std::string("all=1") : query) +
                         "&before=" + std::to_string(page->events.back().seq),
                     "Older events", "govuk-link govuk-pagination__link") +
                "</div></nav>";
          }
          reply(render(r, f, {}, results, 200));
        });
  });
}

void AddEventPage(Router& router, Context& c) {
  router.Get("/audit/events/([0-9]{1,19})", kRoles, [&c](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    const auto seq = ParseSeq(r.params.at(0));
    if (!seq) return reply(NotFoundPage(r, c.options.service_name));
    c.services.audit->Event(*r.staff, *seq, [&c, r, reply](Result<AuditEventDetail> d) {
      if (!d.ok()) return reply(ReadFailed(r, c, d.status()));
      const audit::AuditEvent& e = d->event;
      auto text = [](const std::string& s) { return s.empty() ? std::string("None") : Escape(s); };
      std::string subjects;
      for (const auto& s : e.subjects) subjects += "<code>" + Escape(s) + "</code><br>";
      std::string hashes;
      for (const auto& h : e.envelope_hashes) hashes += "<code>" + Hex(h) + "</code><br>";
      std::vector<Row> rows = {
          {"Entry", std::to_string(e.seq)},
          {"Time", Escape(TimeOf(e.time_ms))},
          {"Event", Escape(audit::EventTypeName(e.type))},
          {"Outcome", Outcome(e.outcome)},
          {"Who", text(e.person)},
          {"Role", text(e.role)},
          {"Organisation", text(e.organisation)},
          {"Agency", text(e.agency)},
          {"Subjects (pseudonyms)", subjects.empty() ? "None" : subjects},
          {"Check", text(e.check_ref)},
          {"Purpose", text(e.purpose)},
          {"Lawful basis", text(e.lawful_basis)},
          {"Consent", text(e.consent)},
          {"Override ground", text(e.override_ground)},
          {"Justification", text(e.justification_ref)},
          {"Level", e.level < 0 ? "None" : std::to_string(e.level)},
          {"Deciding rule", text(e.rule)},
          {"Policy version", text(e.policy_version)},
          {"Envelope hashes", hashes.empty() ? "None" : hashes},
          {"Detail", text(e.detail)},
      };
      std::string body = SummaryList(rows);
      if (!e.categories.empty()) {
        Table t;
        t.caption = "Categories";
        t.head = {"Category", "Disposition", "Reason or rule"};
        for (const auto& cat : e.categories) {
          t.rows_html.push_back({Escape(cat.category), Escape(cat.disposition), text(cat.reason)});
        }
        body += RenderTable(t);
      }
      std::vector<Row> integrity = {{"Entry hash", "<code>" + Hex(d->leaf_hash) + "</code>"},
                                    {"Chain value", "<code>" + Hex(d->chain) + "</code>"}};
      if (d->checkpoint) {
        integrity.push_back(
            {"Signed checkpoint", "Size " + std::to_string(d->checkpoint->checkpoint.size) + ", " +
                                      Escape(TimeOf(d->checkpoint->checkpoint.time_ms)) +
                                      ", root <code>" + HexHash(d->checkpoint->checkpoint.root) +
                                      "</code>"});
        integrity.push_back(
            {"Included in it", d->inclusion_verified
                                   ? Tag("Verified", "green") + " by its audit path of " +
                                         std::to_string(d->inclusion_proof.size()) + " hashes"
                                   : Tag("Not verified", "red") + " - " +
                                         Link("/audit/verify?from=" + std::to_string(e.seq) +
                                                  "&to=" + std::to_string(e.seq),
                                              "verify this entry")});
      } else {
        integrity.push_back({"Signed checkpoint", "Not yet covered by a checkpoint"});
      }
      body += Heading("Integrity") + SummaryList(integrity);
      Page page;
      page.title = "Audit event " + std::to_string(e.seq);
      page.caption = "Audit trail";
      page.back = "/audit";
      page.active_nav = "/audit";
      page.body = body;
      reply(PageResponse(r, page, c.options.service_name));
    });
  });
}

void AddVerifyPage(Router& router, Context& c) {
  // A GET form: the range is no personal data, and verifying is a read.
  router.Get("/audit/verify", kRoles, [&c](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    const std::string from_text = r.query.Get("from"), to_text = r.query.Get("to");
    Errors errors;
    std::optional<uint64_t> from, to;
    if (!from_text.empty() && !(from = ParseSeq(from_text))) {
      errors.push_back({"from", "First entry must be a whole number, 0 or more"});
    }
    if (!to_text.empty() && !(to = ParseSeq(to_text))) {
      errors.push_back({"to", "Last entry must be a whole number, 0 or more"});
    }
    if (from && to && *to < *from) {
      errors.push_back({"to", "Last entry must be the same as or after the first entry"});
    }
    auto render = [&c, r, from_text, to_text](const Errors& errs, const std::string& result,
                                              int status) {
      const std::string form = "<form method=\"get\" action=\"/audit/verify\" novalidate>" +
                               TextInput({.name = "from",
                                          .label = "First entry",
                                          .value = from_text,
                                          .error = ErrorFor(errs, "from"),
                                          .classes = "govuk-input--width-10",
                                          .type = "text"}) +
                               TextInput({.name = "to",
                                          .label = "Last entry",
                                          .hint = "Leave both empty to verify the whole log",
                                          .value = to_text,
                                          .error = ErrorFor(errs, "to"),
                                          .classes = "govuk-input--width-10"}) +
                               "<input type=\"hidden\" name=\"run\" value=\"1\">" +
                               Button("Verify") + "</form>";
      Page page;
      page.title = "Verify the audit trail";
      page.errors = errs;
      page.active_nav = "/audit/verify";
      page.body = result +
                  Paragraph(
                      "A range is checked against the log's signed seal: each entry's "
                      "encoding, hash and chain value, and that together with the rest of "
                      "the stored tree they give the seal's signed root. The whole log is "
                      "checked from its first entry.") +
                  form;
      return PageResponse(r, page, c.options.service_name, status);
    };
    if (!errors.empty()) return reply(render(errors, "", 400));
    if (!r.query.Has("run")) return reply(render({}, "", 200));
    c.services.audit->Verify(
        *r.staff, from, to, [&c, r, render, reply](Result<AuditVerifyResult> v) {
          if (!v.ok()) {
            if (v.status().code() == StatusCode::kInvalidArgument) {
              return reply(render({{"from",
                                    "The range must start inside the log and hold at "
                                    "most " +
                                        std::to_string(audit::kMaxVerifyRange) + " entries"}},
                                  "", 400));
            }
            return reply(ReadFailed(r, c, v.status()));
          }
          const audit::VerifyReport& rep = v->report;
          const std::string what =
              v->whole_log
                  ? "The whole log (" + std::to_string(rep.size) + " entries)"
                  : "Entries " + std::to_string(v->first) + " to " + std::to_string(v->last);
          std::string panel;
          if (rep.ok) {
            panel =
                "<div class=\"govuk-panel govuk-panel--confirmation\" id=\"verify-result\">"
                "<h2 class=\"govuk-panel__title\">Verified</h2><div class=\"govuk-panel__body\">" +
                Escape(what) + ": " + std::to_string(rep.entries_checked) + " entries and " +
                std::to_string(rep.checkpoints_checked) + " signed checkpoints checked</div></div>";
          } else {
            // The error summary's red box (GOV.UK panels are green only).
            panel =
                "<div class=\"govuk-error-summary\" id=\"verify-result\" role=\"alert\">"
                "<h2 class=\"govuk-error-summary__title\">Verification failed</h2>"
                "<div class=\"govuk-error-summary__body\"><p class=\"govuk-body\">" +
                Escape(what) +
                (rep.first_bad_seq ? ": first bad entry " + std::to_string(*rep.first_bad_seq)
                                   : std::string()) +
                "</p><p class=\"govuk-body\">" + Escape(rep.problem) + "</p></div></div>";
            if (rep.first_bad_seq) {
              panel += "<p class=\"govuk-body\">" +
                       Link("/audit/events/" + std::to_string(*rep.first_bad_seq),
                            "Open entry " + std::to_string(*rep.first_bad_seq)) +
                       "</p>";
            }
          }
          reply(render({}, panel, 200));
        });
  });
}

void AddExportPages(Router& router, Context& c) {
  router.Get("/audit/export", kRoles, [&c](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    c.services.audit->Count(*r.staff, {}, [&c, r, reply](Result<AuditCount> n) {
      if (!n.ok()) return reply(ReadFailed(r, c, n.status()));
      Page page;
      page.title = "Export the audit trail";
      page.active_nav = "/audit";
      page.body =
          SummaryList({{"Entries",
                        "<span id=\"export-count\">" + std::to_string(n->log_entries) + "</span>"},
                       {"Events held", std::to_string(n->matching)},
                       {"Signed checkpoints", std::to_string(n->checkpoints)}}) +
          Paragraph(
              "The export is the whole log as JSON lines, with every signed checkpoint, so that "
              "anyone with the hub's audit public key can check it offline: mashctl audit "
              "verify --export FILE --public-key KEY.") +
          WarningText(
              "The export names staff and holds subject pseudonyms: store it as the hub's "
              "records policy says. The export is recorded in the audit trail.") +
          Form(r, "/audit/export", Button("Download the export"));
      reply(PageResponse(r, page, c.options.service_name));
    });
  });
  router.Post("/audit/export", kRoles, [&c](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    c.services.audit->Export(*r.staff, [&c, r,
                                        reply](Result<std::shared_ptr<ExportStream>> stream) {
      if (!stream.ok()) return reply(ReadFailed(r, c, stream.status()));
      Response res;
      res.content_type = "application/x-ndjson";
      const std::string date = c.services.clock != nullptr
                                   ? IsoOf(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               c.services.clock->Now().time_since_epoch())
                                               .count())
                                   : "export";
      res.headers.emplace_back("Content-Disposition",
                               "attachment; filename=\"mash-audit-" + date + ".jsonl\"");
      std::shared_ptr<ExportStream> s = *stream;
      res.stream = [s](ConsoleReply::Next next) {
        s->Next([next](Result<std::optional<std::string>> chunk) {
          // An error cuts the response without its last chunk: the download fails visibly.
          next(std::move(chunk));
        });
      };
      reply(std::move(res));
    });
  });
}

std::string ReportHtml(const nlohmann::json& j) {
  auto s = [](const nlohmann::json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto who = [&](const nlohmann::json& o) {
    return Escape(s(o, "person")) + (s(o, "role").empty() ? "" : " (" + Escape(s(o, "role")) + ")");
  };
  auto when = [&](const nlohmann::json& o) {
    return Escape(FormatTime(ParseTime(s(o, "at").substr(0, 19) + "Z")));
  };
  auto entry = [&](const nlohmann::json& o) {
    return Link("/audit/events/" + std::to_string(o.value("seq", 0)),
                "entry " + std::to_string(o.value("seq", 0)));
  };
  std::string out =
      SummaryList({{"Subject (pseudonym)", "<code>" + Escape(s(j, "subject")) + "</code>"},
                   {"Events about the subject", std::to_string(j.value("events", 0))},
                   {"Checks", std::to_string(j["checks"].size())}});
  if (j.value("truncated", false)) {
    out +=
        WarningText("The report holds only the first events: run mashctl audit subject for all.");
  }
  for (const auto& c : j["checks"]) {
    out += "<section class=\"mash-report-check\">" + Heading("Check " + s(c, "check"), 2, "m");
    const nlohmann::json& raised = c["raised"];
    if (raised.is_object()) {
      std::vector<Row> rows = {{"Asked by", who(raised)},
                               {"When", when(raised)},
                               {"Purpose", Escape(s(raised, "purpose"))},
                               {"Lawful basis", Escape(s(raised, "lawful_basis"))},
                               {"Consent", Escape(s(raised, "consent"))}};
      if (!s(raised, "override_ground").empty()) {
        rows.push_back({"Override ground", Escape(s(raised, "override_ground")) +
                                               " (justification " +
                                               Escape(s(raised, "justification_ref")) + ")"});
      }
      rows.push_back(
          {"Policy version", "<code>" + Escape(s(raised, "policy_version")) + "</code>"});
      rows.push_back({"Recorded", entry(raised)});
      out += SummaryList(rows);
    }
    for (const auto& a : c["authorisation"]) {
      out += Paragraph("Override " + s(a, "decision") + " by " + s(a, "person") + ", " +
                       FormatTime(ParseTime(s(a, "at").substr(0, 19) + "Z")));
    }
    for (const auto& p : c["agencies"]) {
      out += Heading(s(p, "agency"), 3, "s");
      std::string answer = "No answer recorded";
      for (const auto& ans : p["answers"]) {
        answer = Escape(s(ans, "detail")) + ", level " + std::to_string(ans.value("level", -1)) +
                 ", " + when(ans) + " (" + entry(ans) + ")";
      }
      out += "<p class=\"govuk-body\">Answer: " + answer + "</p>";
      if (!p["categories"].empty()) {
        Table t;
        t.caption = "What " + s(p, "agency") + " disclosed or withheld";
        t.head = {"Category", "Disclosed or withheld", "Reason or rule", "Level", "Policy version"};
        for (const auto& cat : p["categories"]) {
          t.rows_html.push_back({Escape(s(cat, "category")), Escape(s(cat, "disposition")),
                                 Escape(s(cat, "reason")), std::to_string(cat.value("level", -1)),
                                 "<code>" + Escape(s(cat, "policy_version")) + "</code>"});
        }
        out += RenderTable(t);
      }
      for (const auto& e : p["events"]) {
        out += Paragraph(s(e, "type") + " " + s(e, "detail") + ", " +
                         FormatTime(ParseTime(s(e, "at").substr(0, 19) + "Z")));
      }
    }
    if (!c["viewed"].empty()) {
      Table t;
      t.caption = "Who viewed the answers";
      t.head = {"Who", "When", "Entry"};
      for (const auto& v : c["viewed"]) t.rows_html.push_back({who(v), when(v), entry(v)});
      out += RenderTable(t);
    }
    for (const auto& d : c["decisions"]) {
      out += "<p class=\"govuk-body\">MASH decision recorded by " + who(d) + ", " + when(d) + " (" +
             entry(d) + ")</p>";
    }
    for (const auto& o : c["other"]) {
      out += "<p class=\"govuk-body\">" + Escape(s(o, "type")) + " " + Escape(s(o, "detail")) +
             " by " + who(o) + ", " + when(o) + " (" + entry(o) + ")</p>";
    }
    out += "</section>";
  }
  if (!j["other"].empty()) {
    Table t;
    t.caption = "Other events naming the subject (for example, audit trail reads)";
    t.head = {"Event", "Who", "When", "Detail", "Entry"};
    for (const auto& o : j["other"]) {
      t.rows_html.push_back(
          {Escape(s(o, "type")), who(o), when(o), Escape(s(o, "detail")), entry(o)});
    }
    out += RenderTable(t);
  }
  return out;
}

void AddSubjectReportPages(Router& router, Context& c) {
  auto form_page = [&c](const Request& r, const std::string& kind, const Errors& errors,
                        int status) {
    ChoiceGroup g{.name = "kind", .legend = "Kind of identifier"};
    for (const auto& [k, name] : KindNames()) g.choices.push_back({k, name});
    g.selected = {kind};
    g.error = ErrorFor(errors, "kind");
    Page page;
    page.title = "Subject access request: disclosure report";
    page.errors = errors;
    page.active_nav = "/subject-report";
    page.body = Paragraph(
                    "Everything the hub recorded about one person: each check about them, who "
                    "asked and why, what each agency disclosed or withheld and why, who viewed "
                    "it and the decision. Making the report is recorded in the audit trail.") +
                Form(r, "/subject-report",
                     Radios(g) +
                         TextInput({.name = "value",
                                    .label = "Identifier",
                                    .hint = "For a name and date of birth: FAMILY GIVEN "
                                            "YYYY-MM-DD",
                                    .error = ErrorFor(errors, "value"),
                                    .autocomplete = "off"}) +
                         Button("Make the report"));
    return PageResponse(r, page, c.options.service_name, status);
  };
  router.Get("/subject-report", kRoles, [&c, form_page](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    const std::string subject = r.query.Get("subject");
    if (subject.empty()) return reply(form_page(r, "", {}, 200));
    if (!ValidPseudonym(subject)) return reply(NotFoundPage(r, c.options.service_name));
    c.services.audit->SubjectReport(
        *r.staff, subject, [&c, r, reply](Result<nlohmann::json> report) {
          if (!report.ok()) return reply(ReadFailed(r, c, report.status()));
          Page page;
          page.title = "Disclosure report";
          page.caption = "Subject access request";
          page.back = "/subject-report";
          page.active_nav = "/subject-report";
          page.wide = true;
          page.body =
              ReportHtml(*report) + Paragraph("Print this page with your browser's Print command.");
          reply(PageResponse(r, page, c.options.service_name));
        });
  });
  router.Post("/subject-report", kRoles, [&c, form_page](const Request& r, Reply reply) {
    if (c.services.audit == nullptr) return reply(NotFoundPage(r, c.options.service_name));
    const std::string kind = r.form.Get("kind");
    const std::string value = r.form.Get("value");
    Errors errors;
    if (kind.empty()) errors.push_back({"kind", "Choose the kind of identifier"});
    if (value.empty()) errors.push_back({"value", "Enter the identifier"});
    if (errors.empty()) {
      auto p = c.services.audit->SubjectPseudonym(kind, value);
      if (p.ok()) return reply(Redirect("/subject-report?subject=" + UrlEncode(*p)));
      if (p.status().message().starts_with("/kind")) {
        errors.push_back({"kind", "Choose the kind of identifier"});
      } else {
        errors.push_back({"value", "Enter the identifier, at most 200 characters"});
      }
    }
    reply(form_page(r, kind, errors, 400));
  });
}

}  // namespace

void AddAuditPages(Router& router, Context& context) {
  AddSearchPages(router, context);
  AddEventPage(router, context);
  AddVerifyPage(router, context);
  AddExportPages(router, context);
  AddSubjectReportPages(router, context);
}

}  // namespace mash::broker::console
