// The data protection officer's pages (docs/console.md, "DPOs"): the agreement in force with its
// versions, review dates and history, and the agencies' policy versions (/policies); "try a
// request" (/policies/try); the shadow-mode differences (/policies/shadow). IG officers read the
// first and the last. Everything comes from PolicyView; nothing here touches subject data.
#include <algorithm>

#include "console/page.h"
#include "mash/broker/policy_view.h"
#include "mash/policy/vocabulary.h"

namespace mash::broker::console {
namespace {

using policy::Dimension;

const std::set<std::string> kReaders = {"dpo", "ig_officer"};
const std::set<std::string> kDpo = {"dpo"};

std::string Code(std::string_view text) { return "<code>" + Escape(text) + "</code>"; }

// "sha256:0123456789ab…" for tables; the full version is on the summary card.
std::string ShortVersion(const std::string& v) {
  if (v.size() <= 19) return Code(v);
  return "<code title=\"" + Escape(v) + "\">" + Escape(v.substr(0, 19)) + "…</code>";
}

std::string ReviewDate(const AgreementVersion& v) {
  return Escape(v.review_date) + (v.review_overdue ? " " + Tag("Overdue", "red") : "");
}

std::string JoinOr(const std::vector<std::string>& v, std::string_view none) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? std::string(none) : out;
}

std::vector<Choice> TermChoices(Dimension d) {
  std::vector<Choice> out;
  for (const auto& t : policy::Vocabulary::Builtin().Terms(d)) {
    out.push_back({.value = t.id, .text = t.name.empty() ? t.id : t.name});
  }
  return out;
}

std::string VersionRows(const AgreementVersion& v, std::vector<Row> extra = {}) {
  std::vector<Row> rows = {{.key = "Title", .value_html = Escape(v.title)},
                           {.key = "Policy ID", .value_html = Code(v.id)},
                           {.key = "Owner", .value_html = Escape(v.owner)},
                           {.key = "Version", .value_html = Code(v.version)},
                           {.key = "Review date", .value_html = ReviewDate(v)},
                           {.key = "Parties", .value_html = std::to_string(v.parties)},
                           {.key = "Rules", .value_html = std::to_string(v.rules)}};
  rows.insert(rows.end(), extra.begin(), extra.end());
  return SummaryList(rows);
}

std::string Card(std::string_view title, std::string_view html) {
  return "<div class=\"govuk-summary-card\"><div class=\"govuk-summary-card__title-wrapper\"><h2 "
         "class=\"govuk-summary-card__title\">" +
         Escape(title) + "</h2></div><div class=\"govuk-summary-card__content\">" +
         std::string(html) + "</div></div>";
}

std::string RuleChangeName(policy::RuleChange::Kind k) {
  switch (k) {
    case policy::RuleChange::Kind::kAdded:
      return "added";
    case policy::RuleChange::Kind::kRemoved:
      return "removed";
    case policy::RuleChange::Kind::kChanged:
      return "changed";
  }
  return "";
}

Response PoliciesPage(const Request& r, Context& context) {
  PolicyView* pv = context.services.policy;
  const std::string& service = context.options.service_name;
  if (pv == nullptr) return NotFoundPage(r, service);
  auto view = pv->Agreement(*r.staff);
  auto agencies = pv->AgencyPolicies(*r.staff);
  if (!view.ok() || !agencies.ok()) {
    const Status& s = view.ok() ? agencies.status() : view.status();
    return s.code() == StatusCode::kPermissionDenied ? NotFoundPage(r, service)
                                                     : ProblemPage(r, service);
  }
  Page page;
  page.title = "Policies in force";
  page.wide = true;
  std::string body;
  if (view->restart_pending) {
    body += WarningText(
        "The policy store has a newer publication. It takes effect when the broker restarts.");
  }
  std::string signers = "Not signed (accepted only without trusted keys: development)";
  if (!view->signers.empty()) {
    signers.clear();
    for (const auto& s : view->signers) signers += (signers.empty() ? "" : "<br>") + Code(s);
  } else {
    signers = Escape(signers);
  }
  body += Card("Sharing agreement in force",
               VersionRows(view->enforced, {{.key = "Signed by", .value_html = signers}}));

  if (view->shadow) {
    std::string changes;
    if (view->diff) {
      for (const auto& h : view->diff->header_changes) {
        changes += "<li>" + Code(h) + " changed</li>";
      }
      for (const auto& c : view->diff->rules) {
        changes += "<li>rule " + Code(c.rule_id) + " " + RuleChangeName(c.kind) + "</li>";
      }
    }
    changes = changes.empty() ? Escape("No rule changed")
                              : "<ul class=\"govuk-list govuk-list--bullet\">" + changes + "</ul>";
    body += Card("Shadow version (evaluated beside it, not acted on)",
                 VersionRows(*view->shadow,
                             {{.key = "Changes from the version in force", .value_html = changes},
                              {.key = "Differences seen",
                               .value_html = Link("/policies/shadow", "Shadow differences")}}));
  } else {
    body += Card("Shadow version",
                 Paragraph("No shadow version is published. Publish one with mashctl policy "
                           "publish --shadow to compare it with the version in force."));
  }

  body += Heading("Publication history");
  if (view->store.empty()) {
    body += Paragraph(
        "The agreement was loaded from a bundle file, not a policy store: there is no "
        "publication history.");
  } else if (!view->history_error.empty()) {
    body += WarningText("The publication history cannot be read now. Try again later.");
  } else {
    Table t;
    t.caption = "Publications of the agreement, newest first";
    t.head = {"Number", "Published", "Mode", "Version", "Signed by"};
    t.numeric = {true, false, false, false, false};
    for (const auto& h : view->history) {
      const bool enforce = h.mode == policy::PublishMode::kEnforce;
      std::string signed_by;
      for (const auto& s : h.signers) signed_by += (signed_by.empty() ? "" : "<br>") + Code(s);
      t.rows_html.push_back({std::to_string(h.seq), Escape(FormatTime(h.time_unix)),
                             enforce ? Tag("Enforced", "green") : Tag("Shadow", "blue"),
                             ShortVersion(h.version),
                             signed_by.empty() ? "Not signed" : signed_by});
    }
    body += RenderTable(t);
  }

  body += Heading("Agency disclosure policies");
  body += Paragraph(
      "Each agency keeps its own disclosure policy at its agent. The version shown is the one "
      "named by the agency's latest answer. Agencies evaluate their shadow versions themselves "
      "and keep the differences in their own disclosure logs.");
  Table a;
  a.caption = "Agencies and the policy version of their latest answer";
  a.head = {"Agency", "Policy version", "Latest answer"};
  for (const auto& s : *agencies) {
    std::string name = s.name.empty() ? Escape(s.agency) : Escape(s.name);
    name += "<br><span class=\"govuk-hint\">" + Escape(s.agency) + "</span>";
    if (!s.party) name += " " + Tag("Not a party", "orange");
    const int64_t seen = s.version.empty() ? 0 : common::ToUnix(s.last_seen);
    a.rows_html.push_back({name, s.version.empty() ? Escape("None seen yet") : Code(s.version),
                           seen == 0 ? Escape("No answer yet") : Escape(FormatTime(seen))});
  }
  body += RenderTable(a);
  page.body = body;
  return PageResponse(r, page, service);
}

// The form's values, as posted (or empty for a new form).
struct TryForm {
  TryRequest request;
  std::string level_text;
};

TryForm ReadTryForm(const Request& r) {
  TryForm f;
  f.request.role = r.form.Get("role");
  f.request.purpose = r.form.Get("purpose");
  f.request.lawful_basis = r.form.Get("lawful_basis");
  f.request.consent_state = r.form.Get("consent_state");
  f.request.override_ground = r.form.Get("override_ground");
  f.request.urgency = r.form.Get("urgency");
  f.level_text = r.form.Get("level");
  if (f.level_text.size() == 1 && f.level_text[0] >= '0' && f.level_text[0] <= '9') {
    f.request.level = f.level_text[0] - '0';
  } else if (!f.level_text.empty()) {
    f.request.level = 99;  // not a level: Validate names the field
  }
  for (const auto& a : r.form.All("agencies")) {
    if (std::find(f.request.agencies.begin(), f.request.agencies.end(), a) ==
        f.request.agencies.end()) {
      f.request.agencies.push_back(a);
    }
  }
  return f;
}

std::string TryFormHtml(const Request& r, const PolicyView& pv, const TryForm& f,
                        const Errors& errors) {
  const TryRequest& q = f.request;
  auto one = [](const std::string& v) {
    return v.empty() ? std::vector<std::string>{} : std::vector<std::string>{v};
  };
  std::vector<Choice> roles = {{.value = "", .text = "Select a role"}};
  for (auto& c : TermChoices(Dimension::kRole)) roles.push_back(std::move(c));
  std::vector<Choice> bases = {{.value = "", .text = "Select a lawful basis"}};
  for (auto& c : TermChoices(Dimension::kLawfulBasis)) bases.push_back(std::move(c));
  std::vector<Choice> grounds = {{.value = "", .text = "None (no override of consent)"}};
  for (auto& c : TermChoices(Dimension::kOverrideGround)) grounds.push_back(std::move(c));
  std::vector<Choice> levels;
  for (int l = policy::kMinLevel; l <= policy::kMaxLevel; ++l) {
    levels.push_back({.value = std::to_string(l),
                      .text = std::to_string(l) + " " +
                              std::string(policy::Vocabulary::Builtin().LevelName(l))});
  }
  std::vector<Choice> parties;
  for (const auto& p : pv.agreement().enforced().parties) {
    parties.push_back({.value = p.id, .text = p.name.empty() ? p.id : p.name, .hint = p.id});
  }
  std::string html;
  html += Select({.name = "role",
                  .legend = "Role of the person asking",
                  .error = ErrorFor(errors, "role"),
                  .choices = roles,
                  .selected = one(q.role)});
  html += Radios({.name = "purpose",
                  .legend = "Purpose",
                  .error = ErrorFor(errors, "purpose"),
                  .choices = TermChoices(Dimension::kPurpose),
                  .selected = one(q.purpose),
                  .small = true});
  html += Select({.name = "lawful_basis",
                  .legend = "Lawful basis",
                  .error = ErrorFor(errors, "lawful_basis"),
                  .choices = bases,
                  .selected = one(q.lawful_basis)});
  html += Radios({.name = "consent_state",
                  .legend = "Consent",
                  .error = ErrorFor(errors, "consent_state"),
                  .choices = TermChoices(Dimension::kConsentState),
                  .selected = one(q.consent_state),
                  .small = true});
  html += Select({.name = "override_ground",
                  .legend = "Override ground",
                  .hint = "Only when consent is not relied on",
                  .error = ErrorFor(errors, "override_ground"),
                  .choices = grounds,
                  .selected = one(q.override_ground)});
  html += Radios({.name = "urgency",
                  .legend = "Urgency",
                  .error = ErrorFor(errors, "urgency"),
                  .choices = TermChoices(Dimension::kUrgency),
                  .selected = one(q.urgency),
                  .small = true,
                  .inline_ = true});
  html += Radios({.name = "level",
                  .legend = "Level of information asked for",
                  .error = ErrorFor(errors, "level"),
                  .choices = levels,
                  .selected = one(f.level_text),
                  .small = true});
  html += Checkboxes({.name = "agencies",
                      .legend = "Agencies asked",
                      .hint = "Select all that apply",
                      .error = ErrorFor(errors, "agencies"),
                      .choices = parties,
                      .selected = q.agencies,
                      .small = true});
  html += Button("Try the request");
  return Form(r, "/policies/try", html);
}

std::string DecisionHtml(const policy::Decision& d, const std::string& text, int heading) {
  const bool permit = d.effect == policy::Effect::kPermit;
  std::string html = "<p class=\"govuk-body\">" +
                     (permit ? Tag("Permit", "green") + " at level " + std::to_string(d.level)
                             : Tag("Deny", "red")) +
                     "</p>";
  html += SummaryList({{.key = "Deciding rule",
                        .value_html = d.deciding_rule.empty() ? Escape("None (deny by default)")
                                                              : Code(d.deciding_rule)},
                       {.key = "Obligations", .value_html = Escape(JoinOr(d.obligations, "None"))},
                       {.key = "Version", .value_html = ShortVersion(d.policy_version)}});
  // The explanation, line by line as `mashctl policy explain` prints it.
  html += Heading("Explanation", heading, "s") + "<ul class=\"govuk-list mash-explain\">";
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = std::min(text.find('\n', at), text.size());
    html += "<li>" + Escape(text.substr(at, end - at)) + "</li>";
    at = end + 1;
  }
  return html + "</ul>";
}

std::string OutcomeHtml(const PolicyView& pv, const TryOutcome& out) {
  size_t denied = 0;
  for (const auto& a : out.agencies) denied += a.enforced.effect == policy::Effect::kDeny;
  std::string verdict;
  if (denied == 0) {
    verdict = Tag("Allowed", "green") + " A check with these agencies would be raised.";
  } else if (denied == out.agencies.size()) {
    verdict = Tag("Denied", "red") + " A check with these agencies would be refused.";
  } else {
    verdict = Tag("Partly denied", "orange") +
              " Some agencies are denied, so a check with all of them would be refused.";
  }
  std::string html = "<div class=\"govuk-!-margin-top-8\" id=\"decision\">" +
                     Heading("Decision", 2, "l") + "<p class=\"govuk-body\">" + verdict + "</p>";
  if (pv.agreement().shadow() != nullptr) {
    html += Paragraph(out.any_differs ? "The shadow version decides differently."
                                      : "The shadow version decides the same.");
  }
  html += Paragraph("Evaluated at " + FormatTime(out.at) +
                    ". Nothing was sent and no check was raised.");
  for (const auto& a : out.agencies) {
    const int party = pv.agreement().enforced().PartyIndex(a.agency);
    const std::string name =
        party >= 0 && !pv.agreement().enforced().parties[party].name.empty()
            ? pv.agreement().enforced().parties[party].name + " (" + a.agency + ")"
            : a.agency;
    std::string inner;
    if (a.shadow) {
      inner = "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-one-half\">" +
              Heading("Version in force", 3, "s") + DecisionHtml(a.enforced, a.enforced_text, 4) +
              "</div><div class=\"govuk-grid-column-one-half\">" +
              Heading(std::string("Shadow version") + (a.differs ? " (differs)" : ""), 3, "s") +
              DecisionHtml(*a.shadow, a.shadow_text, 4) + "</div></div>";
    } else {
      inner = DecisionHtml(a.enforced, a.enforced_text, 3);
    }
    html += Card(name, inner);
  }
  return html + "</div>";
}

Response TryPage(const Request& r, Context& context, bool posted) {
  PolicyView* pv = context.services.policy;
  const std::string& service = context.options.service_name;
  if (pv == nullptr) return NotFoundPage(r, service);
  Page page;
  page.title = "Try a request";
  page.caption = "Sharing agreement";
  page.wide = true;
  TryForm form;
  std::string result;
  int status = 200;
  if (posted) {
    form = ReadTryForm(r);
    for (const auto& e : pv->Validate(form.request)) page.errors.push_back({e.field, e.message});
    if (!page.errors.empty()) {
      status = 400;
    } else {
      auto out = pv->Try(*r.staff, form.request);
      if (!out.ok()) {
        return out.status().code() == StatusCode::kPermissionDenied ? NotFoundPage(r, service)
                                                                    : ProblemPage(r, service);
      }
      result = OutcomeHtml(*pv, *out);
    }
  }
  page.body = Paragraph(
                  "Compose a request to see what the sharing agreement in force, and its "
                  "shadow version, decide and why. No subject is named, nothing is sent and "
                  "no check is raised.") +
              "<div class=\"govuk-grid-row\"><div class=\"govuk-grid-column-two-thirds\">" +
              TryFormHtml(r, *pv, form, page.errors) + "</div></div>" + result;
  return PageResponse(r, page, service, status);
}

std::string SideHtml(const ShadowDifference::Side& s) {
  std::string html =
      (s.effect == "permit" ? Tag("Permit", "green") + " level " + std::to_string(s.level)
                            : Tag("Deny", "red"));
  html += "<br>" + (s.rule.empty() ? Escape("deny by default") : Code(s.rule));
  if (!s.obligations.empty()) html += "<br>" + Escape(JoinOr(s.obligations, ""));
  return html + "<br>" + ShortVersion(s.version);
}

Response ShadowPage(const Request& r, Context& context) {
  PolicyView* pv = context.services.policy;
  const std::string& service = context.options.service_name;
  if (pv == nullptr) return NotFoundPage(r, service);
  auto diffs = pv->Differences(*r.staff, 200);
  if (!diffs.ok()) {
    return diffs.status().code() == StatusCode::kPermissionDenied ? NotFoundPage(r, service)
                                                                  : ProblemPage(r, service);
  }
  Page page;
  page.title = "Shadow differences";
  page.caption = "Sharing agreement";
  page.wide = true;
  std::string body;
  if (const policy::Policy* shadow = pv->agreement().shadow()) {
    body += Paragraph("The shadow version " + shadow->version.substr(0, 19) +
                      "… is evaluated beside the version in force for every agency of every "
                      "check. Only the version in force is acted on.");
  } else {
    body += Paragraph(
        "No shadow version is loaded now. Differences recorded while one was are kept below.");
  }
  body += Paragraph(
      "Agencies' own shadow versions are compared at their agents and recorded in their "
      "disclosure logs, not here.",
      "govuk-body-s");
  if (diffs->total == 0) {
    body += InsetText(Escape("No differences have been recorded."));
    page.body = body;
    return PageResponse(r, page, service);
  }
  Table counts;
  counts.caption = std::to_string(diffs->total) + " difference" + (diffs->total == 1 ? "" : "s") +
                   " by deciding rules";
  counts.head = {"Rule in force", "Shadow rule", "Differences"};
  counts.numeric = {false, false, true};
  for (const auto& c : diffs->by_rule) {
    counts.rows_html.push_back(
        {c.enforced_rule.empty() ? Escape("deny by default") : Code(c.enforced_rule),
         c.shadow_rule.empty() ? Escape("deny by default") : Code(c.shadow_rule),
         std::to_string(c.count)});
  }
  body += RenderTable(counts);
  Table t;
  t.caption = diffs->newest.size() < static_cast<size_t>(diffs->total)
                  ? "The newest " + std::to_string(diffs->newest.size()) + " differences"
                  : "Differences, newest first";
  t.head = {"When", "Check", "Agency", "Version in force", "Shadow version"};
  for (const auto& d : diffs->newest) {
    t.rows_html.push_back({Escape(FormatTime(d.time_ms / 1000)), Code(d.check_ref),
                           Escape(d.agency), SideHtml(d.enforced), SideHtml(d.shadow)});
  }
  body += RenderTable(t);
  page.body = body;
  return PageResponse(r, page, service);
}

}  // namespace

void AddPolicyPages(Router& router, Context& context) {
  Context* c = &context;
  router.Get("/policies", kReaders,
             [c](const Request& r, Reply reply) { reply(PoliciesPage(r, *c)); });
  router.Get("/policies/try", kDpo,
             [c](const Request& r, Reply reply) { reply(TryPage(r, *c, false)); });
  router.Post("/policies/try", kDpo,
              [c](const Request& r, Reply reply) { reply(TryPage(r, *c, true)); });
  router.Get("/policies/shadow", kReaders,
             [c](const Request& r, Reply reply) { reply(ShadowPage(r, *c)); });
}

}  // namespace mash::broker::console
