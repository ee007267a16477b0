// The web console (DESIGN §11, docs/console.md): server-rendered GOV.UK Design System pages for
// practitioners, managers, IG officers and DPOs, served by the broker on its HTTPS API listener
// (ApiServer hands it every request whose path does not start with /api/).
//
// Security: staff log in with their StaffDirectory password and get a session in a
// __Host-mash-session cookie (Secure, HttpOnly, SameSite=Strict, Path=/); every form carries a
// CSRF token bound to the session (HMAC of the session under a per-start secret) and every POST
// without the right one is refused with 403 before any handler runs; cross-site requests
// (Sec-Fetch-Site, Origin) are refused too. Every response carries a strict
// Content-Security-Policy (no inline script or style, frame-ancestors 'none'), no-store caching
// for pages, and nothing personal is ever put in a URL. Pages work without JavaScript:
// POST -> 303 -> GET.
//
// Thread safety: runs on the broker's io thread, as ApiServer.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mash/broker/alerts.h"
#include "mash/broker/checks.h"
#include "mash/broker/config.h"
#include "mash/broker/staff_directory.h"
#include "mash/common/clock.h"
#include "mash/common/status.h"

namespace mash::broker {

class AuditReader;
class PolicyView;

// What the pages use. Pointers outlive the console (they are the broker's parts); any may be
// null in tests, and the pages that need a null one answer 404.
struct ConsoleServices {
  CheckService* checks = nullptr;
  StaffDirectory* staff = nullptr;
  AlertQueue* alerts = nullptr;  // the IG alert queue (alert_pages.cc)
  const common::Clock* clock = nullptr;
  AuditReader* audit = nullptr;  // the audit trail's read side (IG officers, DPOs)
  PolicyView* policy = nullptr;  // the DPO pages (policy_pages.cc)
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// One answer of the console: a whole response, or (when `stream` is set) the head of a response
// whose body is sent with chunked transfer coding: `stream` is called for each next chunk and
// answers with the chunk, nullopt at the end, or an error, which cuts the connection without the
// last chunk so that the client sees the body is incomplete.
struct ConsoleReply {
  HttpResponse response;
  using Next = std::function<void(Result<std::optional<std::string>> chunk)>;
  std::function<void(Next)> stream;
};

namespace console {
class Router;
}

class Console {
 public:
  static Result<std::unique_ptr<Console>> Create(ConsoleOptions options, ConsoleServices services,
                                                 common::RandomSource& random);
  ~Console();

  // Answers `request` (its target does not start with /api/), now or later on the io thread.
  void Handle(const HttpRequest& request, std::function<void(ConsoleReply)> reply);

  const ConsoleOptions& options() const { return options_; }

  // Exposed for the page groups in console.cc.
  struct Impl;

 private:
  Console(ConsoleOptions options, ConsoleServices services);
  ConsoleOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mash::broker
