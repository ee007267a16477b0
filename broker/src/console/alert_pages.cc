// The IG alert queue for IG officers and DPOs (docs/console.md, "Alert queue"): the queue with
// filters by status and kind, and each alert with its history and a form to move it on. What the
// pages show and do is AlertQueue's (broker/include/mash/broker/alerts.h): the same roles, the
// same rules for notes and statuses, the same audit events.
#include <algorithm>

#include "console/page.h"
#include "mash/broker/alerts.h"

namespace mash::broker::console {
namespace {

const std::set<std::string> kRoles = {"ig_officer", "dpo"};

std::string StatusName(std::string_view status) {
  if (status == "new") return "New";
  if (status == "under_review") return "Under review";
  if (status == "escalated") return "Escalated";
  if (status == "closed") return "Closed";
  return std::string(status);
}

std::string StatusTag(std::string_view status) {
  if (status == "new") return Tag("New", "blue");
  if (status == "under_review") return Tag("Under review", "yellow");
  if (status == "escalated") return Tag("Escalated", "red");
  return Tag(StatusName(status), "grey");
}

std::string KindName(std::string_view kind) {
  if (kind == "override") return "Consent override";
  if (kind == "out_of_hours") return "Out of hours";
  if (kind == "unusual_volume") return "Unusual volume";
  return std::string(kind);
}

std::string When(const nlohmann::json& j, const char* key) {
  return FormatTime(ParseTime(j.value(key, "")));
}

std::string Str(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The changes an alert's status allows (AlertQueue's rules), as radios.
std::vector<Choice> NextSteps(std::string_view status) {
  const Choice review{"under_review", "Under review", "You are looking into it", ""};
  const Choice escalate{"escalated", "Escalate",
                        "It needs the DPO, the team's manager or another body; give the reason",
                        ""};
  const Choice close{"closed", "Close", "Nothing more to do; say what you found", ""};
  if (status == "new") return {review, escalate, close};
  if (status == "under_review") return {escalate, close};
  if (status == "escalated") return {review, close};
  return {};
}

std::string Person(const nlohmann::json& a) {
  std::string who = Str(a, "person");
  const std::string role = Str(a, "role");
  const std::string team = Str(a, "team");
  if (!role.empty()) who += " (" + role + (team.empty() ? "" : ", team " + team) + ")";
  return who;
}

// ---- the queue ---------------------------------------------------------------------------------

void ShowQueue(Context& context, const Request& request, Reply reply) {
  AlertQueue* alerts = context.services.alerts;
  if (alerts == nullptr) return reply(NotFoundPage(request, context.options.service_name));
  // Values outside the vocabulary (a hand-made address) are dropped, not an error.
  AlertFilter filter;
  for (const auto& s : request.query.All("status")) {
    if (std::find(kAlertStatuses.begin(), kAlertStatuses.end(), s) != kAlertStatuses.end()) {
      filter.statuses.insert(s);
    }
  }
  for (const auto& k : request.query.All("kind")) {
    if (std::find(kAlertKinds.begin(), kAlertKinds.end(), k) != kAlertKinds.end()) {
      filter.kinds.insert(k);
    }
  }
  auto listed = alerts->List(*request.staff, filter);
  if (!listed.ok()) return reply(ProblemPage(request, context.options.service_name));

  ChoiceGroup statuses{"status", "Status", "", "", {}, {}, false, true, false};
  for (auto s : kAlertStatuses) statuses.choices.push_back({std::string(s), StatusName(s), "", ""});
  if (filter.statuses.empty()) {
    statuses.selected = {"new", "under_review", "escalated"};
  } else {
    statuses.selected.assign(filter.statuses.begin(), filter.statuses.end());
  }
  ChoiceGroup kinds{"kind", "Kind", "", "", {}, {}, false, true, false};
  for (auto k : kAlertKinds) kinds.choices.push_back({std::string(k), KindName(k), "", ""});
  kinds.selected.assign(filter.kinds.begin(), filter.kinds.end());
  // A filter is a GET form: it changes nothing, so it carries no CSRF token, and its address
  // holds only statuses and kinds.
  const std::string filters =
      "<div class=\"moj-filter\"><div class=\"moj-filter__header\"><div "
      "class=\"moj-filter__header-title\"><h2 class=\"govuk-heading-m\">Filter</h2></div></div>"
      "<div class=\"moj-filter__content\"><div class=\"moj-filter__options\">"
      "<form method=\"get\" action=\"/alerts\" novalidate>" +
      Checkboxes(statuses) + Checkboxes(kinds) +
      Button("Apply filters", "govuk-button--secondary") + "</form></div></div></div>";

  const auto& list = (*listed)["alerts"];
  Table table;
  table.caption = std::to_string(list.size()) + (list.size() == 1 ? " alert" : " alerts");
  table.head = {"Raised", "Kind", "About", "Summary", "Status", "Details"};
  table.sortable = true;
  for (const auto& a : list) {
    const std::string id = Str(a, "id");
    table.rows_html.push_back({Escape(When(a, "created_at")), Escape(KindName(Str(a, "kind"))),
                               Escape(Person(a)), Escape(Str(a, "summary")),
                               StatusTag(Str(a, "status")),
                               "<a class=\"govuk-link\" href=\"/alerts/" + Escape(id) +
                                   "\">View<span class=\"govuk-visually-hidden\"> alert raised " +
                                   Escape(When(a, "created_at")) + "</span></a>"});
  }
  Page page;
  page.title = "Alerts";
  page.wide = true;
  page.active_nav = "/alerts";
  page.body = Paragraph(
                  "Consent overrides, use outside working hours and unusual volumes of checks or "
                  "views. Without a filter, every alert not closed is shown, newest first.") +
              "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-one-quarter\">" +
              filters + "</div><div class=\"govuk-grid-column-three-quarters\">" +
              (list.empty() ? Paragraph("No alerts match the filter.") : RenderTable(table)) +
              "</div></div>";
  reply(PageResponse(request, page, context.options.service_name));
}

// ---- one alert ---------------------------------------------------------------------------------

struct FormState {
  std::string status;
  std::string note;
  Errors errors;
};

Response AlertPage(Context& context, const Request& request, const nlohmann::json& a,
                   const FormState& form, int status_code) {
  const std::string id = Str(a, "id");
  const std::string status = Str(a, "status");
  std::vector<Row> rows = {{"Kind", Escape(KindName(Str(a, "kind")))},
                           {"Status", StatusTag(status)},
                           {"Raised", Escape(When(a, "created_at"))},
                           {"About", Escape(Person(a))},
                           {"Summary", Escape(Str(a, "summary"))}};
  if (!Str(a, "check").empty()) rows.push_back({"Check", Escape(Str(a, "check"))});
  if (const auto d = a.find("detail"); d != a.end() && d->is_object()) {
    if (d->contains("threshold")) {
      rows.push_back(
          {"Threshold",
           Escape("more than " + d->at("threshold").dump() + " " +
                  (d->value("measure", "") == "views" ? "results viewed" : "checks raised") +
                  " in " + d->value("window_hours", nlohmann::json(0)).dump() + " hours")});
    }
  }
  std::string override_html;
  if (const auto o = a.find("override"); o != a.end() && o->is_object()) {
    std::vector<Row> orow = {
        {"Check state", Escape(Str(*o, "state"))},
        {"Purpose", Escape(Str(*o, "purpose"))},
        {"Urgency", Escape(Str(*o, "urgency"))},
        {"Consent", Escape(Str(*o, "consent"))},
        {"Ground",
         Escape(Str(*o, "ground_name").empty() ? Str(*o, "ground") : Str(*o, "ground_name"))},
        {"Justification", Escape(Str(*o, "justification"))}};
    if (const auto auth = o->find("authorisation"); auth != o->end() && auth->is_object()) {
      orow.push_back(
          {"Manager's decision", Escape(Str(*auth, "decision") + " by " + Str(*auth, "by") + ", " +
                                        When(*auth, "at") + ": " + Str(*auth, "reason"))});
    } else {
      orow.push_back({"Manager's decision", "Not yet decided"});
    }
    override_html = SummaryCard("The override", orow);
  }

  // The history, newest first, ending with the alert being raised.
  std::vector<TimelineItem> items;
  if (const auto h = a.find("history"); h != a.end() && h->is_array()) {
    for (auto it = h->rbegin(); it != h->rend(); ++it) {
      const std::string role = Str(*it, "role");
      TimelineItem item;
      item.title = StatusName(Str(*it, "to"));
      item.by = Str(*it, "by") + (role.empty() ? "" : " (" + role + ")");
      item.time = When(*it, "at");
      if (!Str(*it, "note").empty()) item.description_html = Paragraph(Str(*it, "note"));
      items.push_back(std::move(item));
    }
  }
  items.push_back({"Alert raised", "", When(a, "created_at"), Paragraph(Str(a, "summary"))});

  std::string change_html;
  const auto steps = NextSteps(status);
  if (steps.empty()) {
    change_html = InsetText(Paragraph("This alert is closed. Closed alerts cannot be changed."));
  } else {
    ChoiceGroup radios{"status", "What do you want to do?",
                       "",       ErrorFor(form.errors, "status"),
                       steps,    {},
                       false,    false,
                       false};
    if (!form.status.empty()) radios.selected = {form.status};
    Field note;
    note.name = "note";
    note.label = "Note";
    note.hint =
        "Needed to close or escalate: what you checked and what you found, 10 to 2000 "
        "characters. Do not name the child or family.";
    note.value = form.note;
    note.error = ErrorFor(form.errors, "note");
    change_html = Heading("Change the status") +
                  Form(request, "/alerts/" + id, Radios(radios) + Textarea(note) + Button("Save"));
  }

  Page page;
  page.title = KindName(Str(a, "kind")) + " alert";
  page.caption = "Alert";
  page.back = "/alerts";
  page.active_nav = "/alerts";
  page.errors = form.errors;
  if (request.query.Get("updated") == "1" && form.errors.empty()) {
    page.notification = Paragraph("The alert is now " + StatusName(status) + ".",
                                  "govuk-notification-banner__heading");
  }
  page.body =
      SummaryList(rows) + override_html + change_html + Heading("History") + Timeline(items);
  return PageResponse(request, page, context.options.service_name, status_code);
}

void ShowAlert(Context& context, const Request& request, Reply reply) {
  AlertQueue* alerts = context.services.alerts;
  if (alerts == nullptr) return reply(NotFoundPage(request, context.options.service_name));
  auto alert = alerts->Get(*request.staff, request.params.at(0));
  if (!alert.ok()) return reply(NotFoundPage(request, context.options.service_name));
  reply(AlertPage(context, request, *alert, {}, 200));
}

void ChangeAlert(Context& context, const Request& request, Reply reply) {
  AlertQueue* alerts = context.services.alerts;
  if (alerts == nullptr) return reply(NotFoundPage(request, context.options.service_name));
  const std::string id = request.params.at(0);
  auto alert = alerts->Get(*request.staff, id);
  if (!alert.ok()) return reply(NotFoundPage(request, context.options.service_name));
  FormState form{request.form.Get("status"), request.form.Get("note"), {}};
  // The queue checks all of this again (and records the refusal); here it is said in words.
  const auto steps = NextSteps(Str(*alert, "status"));
  const bool known = std::any_of(steps.begin(), steps.end(),
                                 [&](const Choice& c) { return c.value == form.status; });
  if (!known) form.errors.push_back({"status", "Select what you want to do with the alert"});
  const bool needed = form.status == "closed" || form.status == "escalated";
  if (needed && form.note.empty()) {
    form.errors.push_back({"note", std::string("Enter a note to ") +
                                       (form.status == "closed" ? "close" : "escalate") +
                                       " the alert"});
  } else if (!form.note.empty() && form.note.size() < 10) {
    form.errors.push_back({"note", "The note must be 10 characters or more"});
  } else if (form.note.size() > 2000) {
    form.errors.push_back({"note", "The note must be 2000 characters or fewer"});
  }
  if (!form.errors.empty()) return reply(AlertPage(context, request, *alert, form, 400));
  alerts->ChangeStatus(
      id, *request.staff, form.status, form.note,
      [&context, request, form, id, reply](Result<nlohmann::json> changed) mutable {
        if (changed.ok()) return reply(Redirect("/alerts/" + id + "?updated=1"));
        const StatusCode code = changed.status().code();
        if (code == StatusCode::kNotFound || code == StatusCode::kPermissionDenied) {
          return reply(NotFoundPage(request, context.options.service_name));
        }
        if (code != StatusCode::kFailedPrecondition && code != StatusCode::kInvalidArgument) {
          return reply(ProblemPage(request, context.options.service_name));
        }
        // Someone else moved it on meanwhile: show it as it is now, with the reason.
        auto now = context.services.alerts->Get(*request.staff, id);
        if (!now.ok()) return reply(NotFoundPage(request, context.options.service_name));
        form.errors = {{"status", code == StatusCode::kFailedPrecondition
                                      ? "The alert has changed since you opened it: it is now " +
                                            StatusName(Str(*now, "status")) + ". Choose again"
                                      : "Check the status and the note"}};
        reply(AlertPage(context, request, *now, form, 409));
      });
}

}  // namespace

std::string AlertsNavText(const ConsoleServices& services) {
  if (services.alerts == nullptr) return "Alerts";
  const size_t n = services.alerts->CountNew();
  return n == 0 ? "Alerts" : "Alerts (" + std::to_string(n) + " new)";
}

void AddAlertPages(Router& router, Context& context) {
  router.Get("^/alerts$", kRoles, [&context](const Request& r, Reply reply) {
    ShowQueue(context, r, std::move(reply));
  });
  router.Get("^/alerts/([0-9a-f]{32})$", kRoles, [&context](const Request& r, Reply reply) {
    ShowAlert(context, r, std::move(reply));
  });
  router.Post("^/alerts/([0-9a-f]{32})$", kRoles, [&context](const Request& r, Reply reply) {
    ChangeAlert(context, r, std::move(reply));
  });
}

}  // namespace mash::broker::console
