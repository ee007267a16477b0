#include "console/page.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "mash/common/clock.h"

namespace mash::broker::console {
namespace {

constexpr size_t kMaxFields = 200;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string Classes(std::string_view base, std::string_view extra) {
  std::string out(base);
  if (!extra.empty()) {
    out += ' ';
    out += extra;
  }
  return out;
}

std::string ErrorMessage(std::string_view id, std::string_view error) {
  if (error.empty()) return "";
  return "<p id=\"" + Escape(id) +
         "-error\" class=\"govuk-error-message\"><span class=\"govuk-visually-hidden\">Error:"
         "</span> " +
         Escape(error) + "</p>";
}

std::string Hint(std::string_view id, std::string_view hint, std::string_view extra = "") {
  if (hint.empty()) return "";
  return "<div id=\"" + Escape(id) + "-hint\" class=\"" + Classes("govuk-hint", extra) + "\">" +
         Escape(hint) + "</div>";
}

std::string DescribedBy(std::string_view id, bool hint, bool error) {
  std::string ids;
  if (hint) ids += std::string(id) + "-hint";
  if (error) ids += (ids.empty() ? "" : " ") + std::string(id) + "-error";
  return ids.empty() ? "" : " aria-describedby=\"" + Escape(ids) + "\"";
}

std::string FormGroup(bool error, std::string_view html) {
  return "<div class=\"govuk-form-group" + std::string(error ? " govuk-form-group--error" : "") +
         "\">" + std::string(html) + "</div>";
}

std::string Legend(std::string_view text, bool heading, std::string_view size) {
  const std::string cls = "govuk-fieldset__legend govuk-fieldset__legend--" + std::string(size);
  if (heading) {
    return "<legend class=\"" + cls + "\"><h1 class=\"govuk-fieldset__heading\">" + Escape(text) +
           "</h1></legend>";
  }
  return "<legend class=\"" + cls + "\">" + Escape(text) + "</legend>";
}

std::string ChoiceItems(const ChoiceGroup& g, std::string_view type) {
  const std::string kind(type);  // "radios" or "checkboxes"
  std::string out;
  for (size_t i = 0; i < g.choices.size(); ++i) {
    const Choice& c = g.choices[i];
    const std::string id = i == 0 ? g.name : g.name + "-" + std::to_string(i + 1);
    const bool checked =
        std::find(g.selected.begin(), g.selected.end(), c.value) != g.selected.end();
    out += "<div class=\"govuk-" + kind + "__item\"><input class=\"govuk-" + kind +
           "__input\" id=\"" + Escape(id) + "\" name=\"" + Escape(g.name) + "\" type=\"" +
           (kind == "radios" ? "radio" : "checkbox") + "\" value=\"" + Escape(c.value) + "\"";
    if (checked) out += " checked";
    if (!c.conditional_html.empty()) {
      out += " aria-controls=\"conditional-" + Escape(id) + "\"";
    }
    if (!c.hint.empty()) out += " aria-describedby=\"" + Escape(id) + "-item-hint\"";
    out += "><label class=\"govuk-label govuk-" + kind + "__label\" for=\"" + Escape(id) + "\">" +
           Escape(c.text) + "</label>";
    if (!c.hint.empty()) {
      out += "<div id=\"" + Escape(id) + "-item-hint\" class=\"govuk-hint govuk-" + kind +
             "__hint\">" + Escape(c.hint) + "</div>";
    }
    out += "</div>";
    if (!c.conditional_html.empty()) {
      out += "<div class=\"govuk-" + kind + "__conditional" +
             (checked ? "" : " govuk-" + kind + "__conditional--hidden") + "\" id=\"conditional-" +
             Escape(id) + "\">" + c.conditional_html + "</div>";
    }
  }
  return out;
}

std::string ChoiceFieldset(const ChoiceGroup& g, std::string_view kind) {
  std::string modifier;
  if (g.small) modifier += " govuk-" + std::string(kind) + "--small";
  if (g.inline_) modifier += " govuk-" + std::string(kind) + "--inline";
  const std::string html = "<fieldset class=\"govuk-fieldset\"" +
                           DescribedBy(g.name, !g.hint.empty(), !g.error.empty()) + ">" +
                           Legend(g.legend, g.legend_is_heading, g.legend_is_heading ? "l" : "m") +
                           Hint(g.name, g.hint) + ErrorMessage(g.name, g.error) +
                           "<div class=\"govuk-" + std::string(kind) + modifier +
                           "\" data-module=\"govuk-" + std::string(kind) + "\">" +
                           ChoiceItems(g, kind) + "</div></fieldset>";
  return FormGroup(!g.error.empty(), html);
}

struct NavItem {
  std::string href;
  std::string text;
};

std::vector<NavItem> NavFor(const std::string& role) {
  if (role == "practitioner") return {{"/checks", "Checks"}, {"/checks/new", "Raise a check"}};
  if (role == "manager") {
    return {
        {"/checks", "Checks"}, {"/checks/new", "Raise a check"}, {"/deadlines", "Team deadlines"}};
  }
  if (role == "ig_officer") {
    return {{"/audit", "Audit trail"},
            {"/alerts", "Alerts"},
            {"/audit/verify", "Verify"},
            {"/subject-report", "Subject report"},
            {"/policies", "Policies"}};
  }
  if (role == "dpo") {
    return {{"/policies", "Policies"},
            {"/policies/try", "Try a request"},
            {"/policies/shadow", "Shadow differences"},
            {"/audit", "Audit trail"},
            {"/alerts", "Alerts"}};
  }
  return {};
}

std::string Navigation(const Request& request, const Page& page) {
  if (!request.staff) return "";
  std::string items;
  const std::string active = page.active_nav.empty() ? request.path : page.active_nav;
  for (auto item : NavFor(request.staff->role)) {
    if (item.href == "/alerts" && !request.alerts_nav.empty()) item.text = request.alerts_nav;
    const bool current = item.href == active;
    items += "<li class=\"govuk-service-navigation__item" +
             std::string(current ? " govuk-service-navigation__item--active" : "") +
             "\"><a class=\"govuk-service-navigation__link\" href=\"" + Escape(item.href) + "\"" +
             (current ? " aria-current=\"page\"" : "") + ">" +
             (current ? "<strong class=\"govuk-service-navigation__active-fallback\">" +
                            Escape(item.text) + "</strong>"
                      : Escape(item.text)) +
             "</a></li>";
  }
  const Staff& s = *request.staff;
  std::string who = s.user + " (" + s.role + (s.team.empty() ? "" : ", " + s.team) + ")";
  return "<section aria-label=\"Service information\" class=\"govuk-service-navigation\" "
         "data-module=\"govuk-service-navigation\"><div class=\"govuk-width-container\"><div "
         "class=\"govuk-service-navigation__container\"><nav aria-label=\"Menu\" "
         "class=\"govuk-service-navigation__wrapper\"><button type=\"button\" "
         "class=\"govuk-service-navigation__toggle govuk-js-service-navigation-toggle\" "
         "aria-controls=\"navigation\" hidden>Menu</button><ul "
         "class=\"govuk-service-navigation__list\" id=\"navigation\">" +
         items +
         "</ul></nav><div class=\"mash-signed-in\"><span class=\"govuk-body-s\">Signed in as " +
         Escape(who) + "</span> <form method=\"post\" action=\"/logout\" novalidate>" +
         CsrfField(request) +
         "<button type=\"submit\" class=\"govuk-button govuk-button--secondary "
         "mash-sign-out\" data-module=\"govuk-button\">Sign out</button></form></div>"
         "</div></div></section>";
}

}  // namespace

// ---- Params ------------------------------------------------------------------------------------

std::optional<Params> Params::Parse(std::string_view text) {
  Params p;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    if (p.items_.size() >= kMaxFields) return std::nullopt;
    const auto eq = pair.find('=');
    auto name = Decode(pair.substr(0, eq));
    auto value = Decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    p.items_.emplace_back(std::move(*name), std::move(*value));
  }
  return p;
}

std::string Params::Get(const std::string& name) const {
  for (const auto& [k, v] : items_) {
    if (k == name) return Trim(v);
  }
  return "";
}

std::vector<std::string> Params::All(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_) {
    if (k == name) out.push_back(Trim(v));
  }
  return out;
}

bool Params::Has(const std::string& name) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const auto& kv) { return kv.first == name; });
}

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---- Router ------------------------------------------------------------------------------------

void Router::Get(const std::string& pattern, std::set<std::string> roles, Handler handler) {
  routes_.push_back({"GET", std::regex(pattern), std::move(roles), true, std::move(handler)});
}
void Router::Post(const std::string& pattern, std::set<std::string> roles, Handler handler) {
  routes_.push_back({"POST", std::regex(pattern), std::move(roles), true, std::move(handler)});
}
void Router::PublicGet(const std::string& pattern, Handler handler) {
  routes_.push_back({"GET", std::regex(pattern), {}, false, std::move(handler)});
}
void Router::PublicPost(const std::string& pattern, Handler handler) {
  routes_.push_back({"POST", std::regex(pattern), {}, false, std::move(handler)});
}

const Router::Route* Router::Find(std::string_view method, const std::string& path,
                                  std::vector<std::string>& params, bool& path_known) const {
  path_known = false;
  for (const auto& route : routes_) {
    std::smatch m;
    if (!std::regex_match(path, m, route.pattern)) continue;
    if (route.method != method) {
      path_known = true;
      continue;
    }
    params.clear();
    for (size_t i = 1; i < m.size(); ++i) params.push_back(m[i].str());
    return &route;
  }
  return nullptr;
}

// ---- Markup ------------------------------------------------------------------------------------

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab and newlines are dropped.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string ErrorFor(const Errors& errors, std::string_view field) {
  for (const auto& e : errors) {
    if (e.field == field) return e.message;
  }
  return "";
}

std::string RenderPage(const Request& request, const Page& page, const std::string& service_name) {
  const std::string title =
      (page.errors.empty() ? "" : "Error: ") + page.title + " - " + service_name;
  std::string main;
  if (!page.back.empty()) {
    main += "<a href=\"" + Escape(page.back) + "\" class=\"govuk-back-link\">Back</a>";
  }
  main +=
      "<main class=\"govuk-main-wrapper\" id=\"main-content\"><div class=\"govuk-grid-row\">"
      "<div class=\"govuk-grid-column-" +
      std::string(page.wide ? "full" : "two-thirds") + "\">";
  if (!page.errors.empty()) {
    main +=
        "<div class=\"govuk-error-summary\" data-module=\"govuk-error-summary\"><div "
        "role=\"alert\"><h2 class=\"govuk-error-summary__title\">There is a problem</h2><div "
        "class=\"govuk-error-summary__body\"><ul class=\"govuk-list "
        "govuk-error-summary__list\">";
    for (const auto& e : page.errors) {
      main += e.field.empty()
                  ? "<li>" + Escape(e.message) + "</li>"
                  : "<li><a href=\"#" + Escape(e.field) + "\">" + Escape(e.message) + "</a></li>";
    }
    main += "</ul></div></div></div>";
  }
  if (!page.notification.empty()) {
    main +=
        "<div class=\"govuk-notification-banner govuk-notification-banner--success\" "
        "role=\"alert\" aria-labelledby=\"govuk-notification-banner-title\" "
        "data-module=\"govuk-notification-banner\"><div "
        "class=\"govuk-notification-banner__header\"><h2 "
        "class=\"govuk-notification-banner__title\" "
        "id=\"govuk-notification-banner-title\">Success</h2></div><div "
        "class=\"govuk-notification-banner__content\">" +
        page.notification + "</div></div>";
  }
  if (!page.caption.empty()) {
    main += "<span class=\"govuk-caption-l\">" + Escape(page.caption) + "</span>";
  }
  const std::string& h1 = page.heading.empty() ? page.title : page.heading;
  if (!h1.empty() && !page.heading_in_form)
    main += "<h1 class=\"govuk-heading-l\">" + Escape(h1) + "</h1>";
  main += page.body;
  main += "</div></div></main>";

  return "<!DOCTYPE html>\n<html lang=\"en\" class=\"govuk-template\"><head><meta "
         "charset=\"utf-8\"><title>" +
         Escape(title) +
         "</title><meta name=\"viewport\" content=\"width=device-width, initial-scale=1, "
         "viewport-fit=cover\"><meta name=\"theme-color\" content=\"#0b0c0c\"><meta "
         "name=\"robots\" content=\"noindex, nofollow\"><link rel=\"icon\" sizes=\"48x48\" "
         "href=\"/assets/images/favicon.ico\"><link rel=\"stylesheet\" "
         "href=\"/assets/console.css\"></head><body class=\"govuk-template__body\"><a "
         "href=\"#main-content\" class=\"govuk-skip-link\" data-module=\"govuk-skip-link\">Skip "
         "to main content</a><header class=\"govuk-generic-header\"><div "
         "class=\"govuk-generic-header__container govuk-width-container\"><div "
         "class=\"govuk-generic-header__logo\"><a href=\"/\" "
         "class=\"govuk-generic-header__homepage-link\">" +
         Escape(service_name) + "</a></div></div></header>" + Navigation(request, page) +
         "<div class=\"govuk-width-container\">" + main +
         "</div><footer class=\"govuk-footer\"><div class=\"govuk-width-container\"><div "
         "class=\"govuk-footer__meta\"><div class=\"govuk-footer__meta-item "
         "govuk-footer__meta-item--grow\"><p class=\"govuk-body-s\">" +
         Escape(service_name) +
         ": information shared here is for safeguarding under the hub's sharing agreement. "
         "Every view is recorded.</p></div></div></div></footer><script type=\"module\" "
         "src=\"/assets/console.js\"></script></body></html>";
}

std::string Paragraph(std::string_view text, std::string_view classes) {
  return "<p class=\"" + Escape(classes) + "\">" + Escape(text) + "</p>";
}

std::string Heading(std::string_view text, int level, std::string_view size) {
  const std::string h = "h" + std::to_string(std::clamp(level, 1, 6));
  return "<" + h + " class=\"govuk-heading-" + Escape(size) + "\">" + Escape(text) + "</" + h + ">";
}

std::string Link(std::string_view href, std::string_view text, std::string_view classes) {
  return "<a class=\"" + Classes("govuk-link", classes) + "\" href=\"" + Escape(href) + "\">" +
         Escape(text) + "</a>";
}

std::string Tag(std::string_view text, std::string_view colour) {
  return "<strong class=\"govuk-tag" +
         (colour.empty() ? std::string() : " govuk-tag--" + std::string(colour)) + "\">" +
         Escape(text) + "</strong>";
}

std::string InsetText(std::string_view html) {
  return "<div class=\"govuk-inset-text\">" + std::string(html) + "</div>";
}

std::string WarningText(std::string_view text) {
  return "<div class=\"govuk-warning-text\"><span class=\"govuk-warning-text__icon\" "
         "aria-hidden=\"true\">!</span><strong class=\"govuk-warning-text__text\"><span "
         "class=\"govuk-visually-hidden\">Warning</span> " +
         Escape(text) + "</strong></div>";
}

std::string CsrfField(const Request& request) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + Escape(request.csrf) + "\">";
}

std::string Form(const Request& request, std::string_view action, std::string_view html) {
  return "<form method=\"post\" action=\"" + Escape(action) + "\" novalidate>" +
         CsrfField(request) + std::string(html) + "</form>";
}

std::string Button(std::string_view text, std::string_view classes, std::string_view name,
                   std::string_view value) {
  std::string out = "<button type=\"submit\" class=\"" + Classes("govuk-button", classes) +
                    "\" data-module=\"govuk-button\"";
  if (!name.empty()) out += " name=\"" + Escape(name) + "\" value=\"" + Escape(value) + "\"";
  return out + ">" + Escape(text) + "</button>";
}

std::string TextInput(const Field& f) {
  std::string label = "<label class=\"govuk-label" +
                      std::string(f.label_is_heading ? " govuk-label--l" : "") + "\" for=\"" +
                      Escape(f.name) + "\">" + Escape(f.label) + "</label>";
  if (f.label_is_heading) label = "<h1 class=\"govuk-label-wrapper\">" + label + "</h1>";
  std::string input =
      "<input class=\"" +
      Classes(Classes("govuk-input", f.classes), f.error.empty() ? "" : "govuk-input--error") +
      "\" id=\"" + Escape(f.name) + "\" name=\"" + Escape(f.name) + "\" type=\"" + Escape(f.type) +
      "\"";
  if (f.type != "password") input += " value=\"" + Escape(f.value) + "\"";
  if (!f.autocomplete.empty()) input += " autocomplete=\"" + Escape(f.autocomplete) + "\"";
  if (f.type == "password" || f.autocomplete == "off") input += " spellcheck=\"false\"";
  input += DescribedBy(f.name, !f.hint.empty(), !f.error.empty()) + ">";
  return FormGroup(!f.error.empty(),
                   label + Hint(f.name, f.hint) + ErrorMessage(f.name, f.error) + input);
}

std::string Textarea(const Field& f, int rows) {
  const std::string label = "<label class=\"govuk-label" +
                            std::string(f.label_is_heading ? " govuk-label--l" : "") + "\" for=\"" +
                            Escape(f.name) + "\">" + Escape(f.label) + "</label>";
  const std::string area = "<textarea class=\"" +
                           Classes(Classes("govuk-textarea", f.classes),
                                   f.error.empty() ? "" : "govuk-textarea--error") +
                           "\" id=\"" + Escape(f.name) + "\" name=\"" + Escape(f.name) +
                           "\" rows=\"" + std::to_string(rows) + "\"" +
                           DescribedBy(f.name, !f.hint.empty(), !f.error.empty()) + ">" +
                           Escape(f.value) + "</textarea>";
  return FormGroup(
      !f.error.empty(),
      (f.label_is_heading ? "<h1 class=\"govuk-label-wrapper\">" + label + "</h1>" : label) +
          Hint(f.name, f.hint) + ErrorMessage(f.name, f.error) + area);
}

std::string Radios(const ChoiceGroup& g) { return ChoiceFieldset(g, "radios"); }
std::string Checkboxes(const ChoiceGroup& g) { return ChoiceFieldset(g, "checkboxes"); }

std::string Select(const ChoiceGroup& g) {
  std::string options;
  for (const auto& c : g.choices) {
    const bool sel = !g.selected.empty() && g.selected.front() == c.value;
    options += "<option value=\"" + Escape(c.value) + "\"" + (sel ? " selected" : "") + ">" +
               Escape(c.text) + "</option>";
  }
  return FormGroup(
      !g.error.empty(),
      "<label class=\"govuk-label\" for=\"" + Escape(g.name) + "\">" + Escape(g.legend) +
          "</label>" + Hint(g.name, g.hint) + ErrorMessage(g.name, g.error) +
          "<select class=\"govuk-select" + (g.error.empty() ? "" : " govuk-select--error") +
          "\" id=\"" + Escape(g.name) + "\" name=\"" + Escape(g.name) + "\"" +
          DescribedBy(g.name, !g.hint.empty(), !g.error.empty()) + ">" + options + "</select>");
}

std::string DateInput(const ChoiceGroup& g, std::string_view day, std::string_view month,
                      std::string_view year) {
  auto item = [&](std::string_view part, std::string_view label, std::string_view value,
                  int width) {
    const std::string id = g.name + "-" + std::string(part);
    return "<div class=\"govuk-date-input__item\"><div class=\"govuk-form-group\"><label "
           "class=\"govuk-label govuk-date-input__label\" for=\"" +
           Escape(id) + "\">" + Escape(label) +
           "</label><input class=\"govuk-input govuk-date-input__input govuk-input--width-" +
           std::to_string(width) + (g.error.empty() ? "" : " govuk-input--error") + "\" id=\"" +
           Escape(id) + "\" name=\"" + Escape(id) +
           "\" type=\"text\" inputmode=\"numeric\" value=\"" + Escape(value) + "\"></div></div>";
  };
  const std::string html = "<fieldset class=\"govuk-fieldset\" role=\"group\"" +
                           DescribedBy(g.name, !g.hint.empty(), !g.error.empty()) + ">" +
                           Legend(g.legend, g.legend_is_heading, g.legend_is_heading ? "l" : "s") +
                           Hint(g.name, g.hint) + ErrorMessage(g.name, g.error) +
                           "<div class=\"govuk-date-input\" id=\"" + Escape(g.name) + "\">" +
                           item("day", "Day", day, 2) + item("month", "Month", month, 2) +
                           item("year", "Year", year, 4) + "</div></fieldset>";
  return FormGroup(!g.error.empty(), html);
}

std::string SummaryList(const std::vector<Row>& rows) {
  const bool any_action =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return !r.action_href.empty(); });
  std::string out = "<dl class=\"govuk-summary-list\">";
  for (const auto& r : rows) {
    const bool action = !r.action_href.empty();
    out += "<div class=\"govuk-summary-list__row" +
           std::string(any_action && !action ? " govuk-summary-list__row--no-actions" : "") +
           "\"><dt class=\"govuk-summary-list__key\">" + Escape(r.key) +
           "</dt><dd class=\"govuk-summary-list__value\">" + r.value_html + "</dd>";
    if (action) {
      out += "<dd class=\"govuk-summary-list__actions\"><a class=\"govuk-link\" href=\"" +
             Escape(r.action_href) + "\">" +
             Escape(r.action_text.empty() ? "Change" : r.action_text) +
             "<span class=\"govuk-visually-hidden\"> " +
             Escape(r.action_hidden.empty() ? r.key : r.action_hidden) + "</span></a></dd>";
    }
    out += "</div>";
  }
  return out + "</dl>";
}

std::string SummaryCard(std::string_view title, const std::vector<Row>& rows) {
  return "<div class=\"govuk-summary-card\"><div class=\"govuk-summary-card__title-wrapper\"><h2 "
         "class=\"govuk-summary-card__title\">" +
         Escape(title) + "</h2></div><div class=\"govuk-summary-card__content\">" +
         SummaryList(rows) + "</div></div>";
}

std::string RenderTable(const Table& t) {
  std::string out = "<table class=\"govuk-table\"" +
                    std::string(t.sortable ? " data-module=\"moj-sortable-table\"" : "") + ">";
  if (!t.caption.empty()) {
    out += "<caption class=\"govuk-table__caption govuk-table__caption--m\">" + Escape(t.caption) +
           "</caption>";
  }
  auto numeric = [&](size_t i) { return i < t.numeric.size() && t.numeric[i]; };
  out += "<thead class=\"govuk-table__head\"><tr class=\"govuk-table__row\">";
  for (size_t i = 0; i < t.head.size(); ++i) {
    out += "<th scope=\"col\" class=\"govuk-table__header" +
           std::string(numeric(i) ? " govuk-table__header--numeric" : "") + "\"" +
           // A column without a heading (row actions) is not sortable: MOJ's sortable table
           // would make its header a button with no name (axe: button-name, critical).
           (t.sortable && !t.head[i].empty() ? " aria-sort=\"none\"" : "") + ">" +
           Escape(t.head[i]) + "</th>";
  }
  out += "</tr></thead><tbody class=\"govuk-table__body\">";
  for (const auto& row : t.rows_html) {
    out += "<tr class=\"govuk-table__row\">";
    for (size_t i = 0; i < row.size(); ++i) {
      out += "<td class=\"govuk-table__cell" +
             std::string(numeric(i) ? " govuk-table__cell--numeric" : "") + "\">" + row[i] +
             "</td>";
    }
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

std::string Timeline(const std::vector<TimelineItem>& items) {
  std::string out = "<div class=\"moj-timeline\">";
  for (const auto& i : items) {
    out +=
        "<div class=\"moj-timeline__item\"><div class=\"moj-timeline__header\"><h2 "
        "class=\"moj-timeline__title\">" +
        Escape(i.title) + "</h2>";
    if (!i.by.empty()) out += " <p class=\"moj-timeline__byline\">by " + Escape(i.by) + "</p>";
    out += "</div><p class=\"moj-timeline__date\">" + Escape(i.time) + "</p>";
    if (!i.description_html.empty()) {
      out += "<div class=\"moj-timeline__description\">" + i.description_html + "</div>";
    }
    out += "</div>";
  }
  return out + "</div>";
}

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %d %b %Y, %H:%M UTC", &tm);
  return buf;
}

int64_t ParseTime(std::string_view rfc3339) {
  // "YYYY-MM-DDTHH:MM:SS" followed by fractional seconds and "Z", as FormatRfc3339 writes.
  std::tm tm{};
  const std::string text(rfc3339.substr(0, 19));
  if (text.size() != 19 || rfc3339.back() != 'Z') return 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

Response PageResponse(const Request& request, const Page& page, const std::string& service_name,
                      int status) {
  Response r;
  r.status = status;
  r.html = RenderPage(request, page, service_name);
  return r;
}

Response Redirect(std::string path) {
  Response r;
  r.status = 303;
  r.redirect = std::move(path);
  return r;
}

Response NotFoundPage(const Request& request, const std::string& service_name) {
  Page page;
  page.title = "Page not found";
  page.body = Paragraph("If you typed the web address, check it is correct.") +
              Paragraph("If you pasted the web address, check you copied the entire address.") +
              Paragraph(
                  "You may not have access to this page. Ask your manager or the hub's "
                  "administrator if you think you should.");
  return PageResponse(request, page, service_name, 404);
}

Response ProblemPage(const Request& request, const std::string& service_name) {
  Page page;
  page.title = "Sorry, there is a problem with the service";
  page.body = Paragraph("Try again later. Nothing you sent has been shared.") +
              Paragraph(
                  "If it keeps happening, tell the hub's administrator the time it "
                  "happened.");
  return PageResponse(request, page, service_name, 503);
}

}  // namespace mash::broker::console
