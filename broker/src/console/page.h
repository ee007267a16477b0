// The console's page toolkit (docs/console.md): requests and responses as the pages see them, the
// router that checks roles, and GOV.UK Design System markup helpers. Every helper escapes the
// text it is given; arguments named `html` are markup the caller built from these helpers.
//
// Thread safety: the io thread only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mash/broker/console.h"
#include "mash/broker/staff.h"

namespace mash::broker::console {

// Decoded name=value pairs (query string or application/x-www-form-urlencoded body), in order.
class Params {
 public:
  // Parses `text`; nullopt when it is malformed (bad %-escapes, too many fields).
  static std::optional<Params> Parse(std::string_view text);
  // The first value of `name`, trimmed of surrounding white space; "" when absent.
  std::string Get(const std::string& name) const;
  // Every value of `name` (checkboxes).
  std::vector<std::string> All(const std::string& name) const;
  bool Has(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// "%XX"-encodes everything but unreserved characters (for query strings the console builds).
std::string UrlEncode(std::string_view text);

struct Request {
  std::string method{};               // "GET" or "POST"
  std::string path{};                 // without the query
  std::vector<std::string> params{};  // the route pattern's groups
  Params query;
  Params form;                 // POST bodies
  std::optional<Staff> staff;  // the logged-in member of staff (always set on role routes)
  std::string csrf{};          // the token every form must carry (CsrfField)
  std::string session_key{};   // a stable, non-secret key of the session (drafts, searches)
  std::string alerts_nav{};    // the navigation's text for the alert queue ("Alerts (2 new)")
};

struct Response {
  int status = 200;
  std::string html{};      // the page (when no redirect)
  std::string redirect{};  // a path: 303 See Other to it
  std::string content_type = "text/html; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::function<void(ConsoleReply::Next)> stream;  // chunked body instead of `html`
};

using Reply = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Reply)>;

// Routes by method and a whole-path regular expression. Roles: who may use the route; empty
// means any logged-in member of staff. A route marked public needs no login.
class Router {
 public:
  void Get(const std::string& pattern, std::set<std::string> roles, Handler handler);
  void Post(const std::string& pattern, std::set<std::string> roles, Handler handler);
  void PublicGet(const std::string& pattern, Handler handler);
  void PublicPost(const std::string& pattern, Handler handler);

  struct Route {
    std::string method{};
    std::regex pattern;
    std::set<std::string> roles;
    bool requires_login = true;
    Handler handler;
  };
  // The route for `method` and `path` (its groups in `params`), or null. `path_known` is set
  // when some route matches the path with another method.
  const Route* Find(std::string_view method, const std::string& path,
                    std::vector<std::string>& params, bool& path_known) const;

 private:
  std::vector<Route> routes_;
};

// ---- Markup ------------------------------------------------------------------------------------

std::string Escape(std::string_view text);

// A form field's error, as shown in the error summary and beside the field.
struct FieldError {
  std::string field{};  // the id of the input it belongs to (the summary links to #field)
  std::string message{};
};
using Errors = std::vector<FieldError>;
// The message for `field`, or "".
std::string ErrorFor(const Errors& errors, std::string_view field);

struct Page {
  std::string title{};           // <title> and, unless `heading` is set, the h1
  std::string heading{};         // the h1 when it differs from the title
  std::string caption{};         // govuk-caption-l above the h1
  std::string body{};            // html below the h1
  std::string back{};            // a back link to this path
  Errors errors{};               // an error summary above the h1 ("Error: " prefixed title)
  std::string active_nav{};      // the navigation item to mark current (a path)
  bool wide = false;             // the full width column instead of two thirds
  bool heading_in_form = false;  // no h1: the form's legend or label is the page heading
  std::string notification{};    // an html success banner (govuk-notification-banner--success)
};

// The whole document: head with the assets, skip link, Generic header with the service name,
// service navigation for the user's roles, the main content, the footer.
std::string RenderPage(const Request& request, const Page& page, const std::string& service_name);

// Text the caller built from these helpers, wrapped.
std::string Paragraph(std::string_view text, std::string_view classes = "govuk-body");
std::string Heading(std::string_view text, int level = 2, std::string_view size = "m");
std::string Link(std::string_view href, std::string_view text, std::string_view classes = "");
std::string Tag(std::string_view text, std::string_view colour = "");  // grey, green, red, ...
std::string InsetText(std::string_view html);
std::string WarningText(std::string_view text);

// Forms. `Form` wraps `html` in a POST form to `action` with the CSRF field; novalidate, so the
// server's messages are shown, not the browser's.
std::string Form(const Request& request, std::string_view action, std::string_view html);
std::string CsrfField(const Request& request);
std::string Button(std::string_view text, std::string_view classes = "", std::string_view name = "",
                   std::string_view value = "");

struct Field {
  std::string name{};  // also the id
  std::string label{};
  std::string hint{};
  std::string value{};
  std::string error{};
  std::string classes{};       // e.g. govuk-input--width-10
  std::string type = "text";   // text, password, email, number, ...
  std::string autocomplete{};  // e.g. "off", "username", "current-password"
  bool label_is_heading = false;
};
std::string TextInput(const Field& f);
std::string Textarea(const Field& f, int rows = 5);

struct Choice {
  std::string value{};
  std::string text{};
  std::string hint{};
  std::string conditional_html{};  // revealed when chosen (stays visible without JavaScript)
};
struct ChoiceGroup {
  std::string name{};  // also the id of the first input (error links go to it)
  std::string legend{};
  std::string hint{};
  std::string error{};
  std::vector<Choice> choices{};
  std::vector<std::string> selected{};
  bool legend_is_heading = false;
  bool small = false;
  bool inline_ = false;
};
std::string Radios(const ChoiceGroup& g);
std::string Checkboxes(const ChoiceGroup& g);
// A <select>; the first choice is usually {"", "Any"}.
std::string Select(const ChoiceGroup& g);
// Day, month and year inputs named NAME-day, NAME-month, NAME-year (the error links to NAME-day).
std::string DateInput(const ChoiceGroup& g, std::string_view day, std::string_view month,
                      std::string_view year);

struct Row {
  std::string key{};
  std::string value_html{};
  std::string action_href{};    // a "Change" link
  std::string action_text{};    // "Change" by default
  std::string action_hidden{};  // visually hidden context for the action
};
std::string SummaryList(const std::vector<Row>& rows);
// A summary card (title and rows).
std::string SummaryCard(std::string_view title, const std::vector<Row>& rows);

struct Table {
  std::string caption{};
  std::vector<std::string> head{};
  std::vector<std::vector<std::string>> rows_html{};  // cells are html
  bool sortable = false;        // MOJ sortable table (JavaScript adds the sort buttons)
  std::vector<bool> numeric{};  // per column
};
std::string RenderTable(const Table& t);

struct TimelineItem {
  std::string title{};
  std::string by{};
  std::string time{};  // already formatted
  std::string description_html{};
};
std::string Timeline(const std::vector<TimelineItem>& items);  // MOJ timeline

// A date time for people: "Thu 24 Dec 2026, 14:00" in UTC ("" for 0).
std::string FormatTime(int64_t unix_seconds);
// Parses "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339 UTC, as the API gives) to Unix seconds; 0 when bad.
int64_t ParseTime(std::string_view rfc3339);

// A Response with a whole page.
Response PageResponse(const Request& request, const Page& page, const std::string& service_name,
                      int status = 200);
Response Redirect(std::string path);

// The page for "not found": also what a user sees for something they may not see.
Response NotFoundPage(const Request& request, const std::string& service_name);
// "Sorry, there is a problem with the service" (503) for failures of the broker's parts.
Response ProblemPage(const Request& request, const std::string& service_name);

// Page groups (one file each, called by Console).
struct Context {
  ConsoleServices services;
  ConsoleOptions options;
  // The draft of a check being raised, per session key (check_pages.cc).
  std::function<void(const std::string& session_key)> forget_session;
};
void AddCheckPages(Router& router, Context& context);
void AddAlertPages(Router& router, Context& context);
// "Alerts", or "Alerts (N new)" while N alerts are new: the text for the navigation's item.
std::string AlertsNavText(const ConsoleServices& services);
void AddAuditPages(Router& router, Context& context);
void AddPolicyPages(Router& router, Context& context);

}  // namespace mash::broker::console
