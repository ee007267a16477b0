#include "mash/broker/console.h"

#include <sodium.h>

#include <fstream>
#include <iterator>
#include <map>
#include <regex>

#include "console/page.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"

namespace mash::broker {

namespace http = boost::beast::http;
using console::Page;
using console::Request;
using console::Response;

namespace {

constexpr std::string_view kSessionCookie = "__Host-mash-session";
constexpr std::string_view kLoginCookie = "__Host-mash-login";
constexpr size_t kMaxTarget = 2048;
constexpr size_t kMaxAssetBytes = 8 << 20;

// No inline script or style anywhere; everything from the broker itself.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return "";
}

std::string SessionCookie(std::string_view value, bool clear) {
  return std::string(kSessionCookie) + "=" + std::string(value) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict" + (clear ? "; Max-Age=0" : "");
}

std::string ContentType(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".map", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".json", "application/manifest+json"}};
  const auto dot = path.rfind('.');
  if (dot == std::string::npos) return "";
  const auto it = kTypes.find(path.substr(dot));
  return it == kTypes.end() ? "" : it->second;
}

bool ValidNext(const std::string& next) {
  static const std::regex kNext("^/[a-z0-9/_-]{0,200}$");
  return std::regex_match(next, kNext) && next.rfind("//", 0) != 0;
}

std::string HomeFor(const Staff& staff) {
  if (staff.role == "practitioner" || staff.role == "manager") return "/checks";
  if (staff.role == "ig_officer") return "/audit";
  if (staff.role == "dpo") return "/policies";
  return "/account";
}

}  // namespace

struct Console::Impl {
  console::Context context;
  console::Router router;
  std::array<uint8_t, crypto_auth_hmacsha256_KEYBYTES> secret{};
  struct Asset {
    std::string body;
    std::string type;
  };
  std::map<std::string, Asset> assets;  // read once, then served from memory

  std::string Mac(std::string_view purpose, std::string_view value) const {
    std::array<uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret.data(), secret.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const uint8_t*>(purpose.data()),
                                  purpose.size());
    const uint8_t zero = 0;
    crypto_auth_hmacsha256_update(&st, &zero, 1);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const uint8_t*>(value.data()),
                                  value.size());
    crypto_auth_hmacsha256_final(&st, mac.data());
    return common::HexEncode(mac);
  }

  const std::string& service_name() const { return context.options.service_name; }

  std::optional<Asset> LoadAsset(const std::string& relative) {
    if (auto it = assets.find(relative); it != assets.end()) return it->second;
    if (context.options.assets.empty()) return std::nullopt;
    const std::string type = ContentType(relative);
    if (type.empty()) return std::nullopt;
    std::error_code ec;
    const auto root = std::filesystem::weakly_canonical(context.options.assets, ec);
    if (ec) return std::nullopt;
    const auto file = std::filesystem::weakly_canonical(root / relative, ec);
    if (ec) return std::nullopt;
    // The file must be inside the assets folder (no symlink or ".." way out).
    const auto rel = file.lexically_relative(root);
    if (rel.empty() || rel.native().rfind("..", 0) == 0) return std::nullopt;
    if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > kMaxAssetBytes) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    Asset a{std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
            type};
    if (assets.size() < 512) assets.emplace(relative, a);
    return a;
  }
};

// ---- Login, password, logout and home ----------------------------------------------------------

namespace {

struct LoginPages {
  Console::Impl* impl;

  Response LoginForm(const Request& r, const std::string& user, console::Errors errors,
                     int status = 200) const {
    Page page;
    page.title = "Sign in";
    page.errors = std::move(errors);
    if (r.query.Get("signed-out") == "1") {
      page.notification =
          "<p class=\"govuk-notification-banner__heading\">You have signed "
          "out.</p>";
    }
    std::string body;
    if (r.query.Get("expired") == "1") {
      body += console::InsetText(
          "<p class=\"govuk-body\">Your session has ended. Sign in again to carry on.</p>");
    }
    const std::string next = r.query.Get("next");
    std::string fields;
    if (!next.empty() && ValidNext(next)) {
      fields += "<input type=\"hidden\" name=\"next\" value=\"" + console::Escape(next) + "\">";
    }
    fields += console::TextInput({.name = "user",
                                  .label = "User ID",
                                  .value = user,
                                  .error = console::ErrorFor(page.errors, "user"),
                                  .classes = "govuk-!-width-one-half",
                                  .autocomplete = "username"});
    fields += console::TextInput({.name = "password",
                                  .label = "Password",
                                  .error = console::ErrorFor(page.errors, "password"),
                                  .classes = "govuk-!-width-one-half",
                                  .type = "password",
                                  .autocomplete = "current-password"});
    fields += console::Button("Sign in");
    body += console::Form(r, "/login", fields);
    body += console::Paragraph("") + "<p class=\"govuk-body\">" +
            console::Link("/set-password", "Set your password") +
            " if you have a one-time password from the hub's administrator, or want to change "
            "yours.</p>";
    page.body = body;
    auto res = console::PageResponse(r, page, impl->service_name(), status);
    return res;
  }

  Response PasswordForm(const Request& r, const std::string& user, console::Errors errors,
                        int status = 200) const {
    Page page;
    page.title = "Set your password";
    page.errors = std::move(errors);
    std::string fields;
    fields += console::TextInput({.name = "user",
                                  .label = "User ID",
                                  .value = user,
                                  .error = console::ErrorFor(page.errors, "user"),
                                  .classes = "govuk-!-width-one-half",
                                  .autocomplete = "username"});
    fields += console::TextInput({.name = "password",
                                  .label = "One-time or current password",
                                  .error = console::ErrorFor(page.errors, "password"),
                                  .classes = "govuk-!-width-one-half",
                                  .type = "password",
                                  .autocomplete = "current-password"});
    fields += console::TextInput({.name = "new_password",
                                  .label = "New password",
                                  .hint = "At least 12 characters, not your user ID. A phrase of "
                                          "three or four words is easy to remember.",
                                  .error = console::ErrorFor(page.errors, "new_password"),
                                  .classes = "govuk-!-width-one-half",
                                  .type = "password",
                                  .autocomplete = "new-password"});
    fields += console::TextInput({.name = "confirm_password",
                                  .label = "Confirm new password",
                                  .error = console::ErrorFor(page.errors, "confirm_password"),
                                  .classes = "govuk-!-width-one-half",
                                  .type = "password",
                                  .autocomplete = "new-password"});
    fields += console::Button("Set password and sign in");
    page.body = console::Form(r, "/set-password", fields);
    page.back = "/login";
    return console::PageResponse(r, page, impl->service_name(), status);
  }
};

// Sets the session cookie of `credential` and redirects to where the user was going.
Response SignedIn(IssuedCredential& credential, const std::string& next) {
  Response res = console::Redirect(ValidNext(next) && next != "/login" ? next : "/");
  res.headers.emplace_back("Set-Cookie", SessionCookie(credential.token, false));
  res.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) +
                                             "=; Path=/; Secure; HttpOnly; SameSite=Strict; "
                                             "Max-Age=0");
  crypto::Wipe({reinterpret_cast<uint8_t*>(credential.token.data()), credential.token.size()});
  return res;
}

void AddAccountPages(console::Router& router, Console::Impl* impl) {
  LoginPages pages{impl};
  router.PublicGet("/login", [pages](const Request& r, console::Reply reply) {
    reply(pages.LoginForm(r, "", {}));
  });
  router.PublicPost("/login", [impl, pages](const Request& r, console::Reply reply) {
    const std::string user = r.form.Get("user");
    const std::string password = r.form.Get("password");
    console::Errors errors;
    if (user.empty()) errors.push_back({"user", "Enter your user ID"});
    if (password.empty()) errors.push_back({"password", "Enter your password"});
    if (!errors.empty() || impl->context.services.staff == nullptr) {
      if (errors.empty()) errors.push_back({"user", "Enter a correct user ID and password"});
      return reply(pages.LoginForm(r, user, std::move(errors), 400));
    }
    const std::string next = r.form.Get("next");
    impl->context.services.staff->Login(
        user, password, [pages, r, user, next, reply](Result<IssuedCredential> issued) {
          if (issued.ok()) return reply(SignedIn(*issued, next));
          console::Errors refused;
          if (issued.status().code() == StatusCode::kUnavailable) {
            refused.push_back({"user",
                               "Too many people are signing in at once. Try again in a "
                               "minute"});
            return reply(pages.LoginForm(r, user, std::move(refused), 503));
          }
          // One message for every refusal: wrong password, unknown user, lock, one-time password.
          refused.push_back({"user", "Enter a correct user ID and password"});
          reply(pages.LoginForm(r, user, std::move(refused), 401));
        });
  });
  router.PublicGet("/set-password", [pages](const Request& r, console::Reply reply) {
    reply(pages.PasswordForm(r, "", {}));
  });
  router.PublicPost("/set-password", [impl, pages](const Request& r, console::Reply reply) {
    const std::string user = r.form.Get("user");
    // Passwords are taken as typed (spaces count).
    std::string password, new_password, confirm;
    for (const auto& [k, v] : r.form.items()) {
      if (k == "password") password = v;
      if (k == "new_password") new_password = v;
      if (k == "confirm_password") confirm = v;
    }
    console::Errors errors;
    if (user.empty()) errors.push_back({"user", "Enter your user ID"});
    if (password.empty()) errors.push_back({"password", "Enter your one-time or current password"});
    if (new_password.empty()) {
      errors.push_back({"new_password", "Enter a new password"});
    } else if (confirm != new_password) {
      errors.push_back({"confirm_password", "The passwords do not match"});
    }
    if (!errors.empty() || impl->context.services.staff == nullptr) {
      if (errors.empty()) errors.push_back({"user", "Enter a correct user ID and password"});
      return reply(pages.PasswordForm(r, user, std::move(errors), 400));
    }
    impl->context.services.staff->ChangePassword(
        user, password, new_password, [pages, r, user, reply](Result<IssuedCredential> issued) {
          if (issued.ok()) return reply(SignedIn(*issued, "/"));
          console::Errors refused;
          const auto& s = issued.status();
          if (s.code() == StatusCode::kInvalidArgument &&
              s.message().find("/new_password") != std::string::npos) {
            // The rule the new password broke (its wording names the field, not the value).
            std::string message = s.message().substr(s.message().find("/new_password") + 14);
            message = "The new password " + message;
            refused.push_back({"new_password", message});
            return reply(pages.PasswordForm(r, user, std::move(refused), 400));
          }
          if (s.code() == StatusCode::kUnavailable) {
            refused.push_back({"user",
                               "Too many people are signing in at once. Try again in a "
                               "minute"});
            return reply(pages.PasswordForm(r, user, std::move(refused), 503));
          }
          refused.push_back({"user", "Enter a correct user ID and password"});
          reply(pages.PasswordForm(r, user, std::move(refused), 401));
        });
  });
  router.Post("/logout", {}, [impl](const Request& r, console::Reply reply) {
    if (impl->context.forget_session) impl->context.forget_session(r.session_key);
    Response res = console::Redirect("/login?signed-out=1");
    res.headers.emplace_back("Set-Cookie", SessionCookie("", true));
    reply(std::move(res));
  });
  router.Get("/", {}, [](const Request& r, console::Reply reply) {
    reply(console::Redirect(HomeFor(*r.staff)));
  });
  router.Get("/account", {}, [impl](const Request& r, console::Reply reply) {
    Page page;
    page.title = "Your account";
    page.body =
        console::SummaryList({{.key = "User ID", .value_html = console::Escape(r.staff->user)},
                              {.key = "Role", .value_html = console::Escape(r.staff->role)},
                              {.key = "Team", .value_html = console::Escape(r.staff->team)}}) +
        console::Paragraph(
            "The console has no pages for this role. Use mashctl for "
            "administration.");
    reply(console::PageResponse(r, page, impl->service_name()));
  });
}

}  // namespace

// ---- Console -----------------------------------------------------------------------------------

Console::Console(ConsoleOptions options, ConsoleServices services)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->context.services = services;
  impl_->context.options = options_;
}

Console::~Console() = default;

Result<std::unique_ptr<Console>> Console::Create(ConsoleOptions options, ConsoleServices services,
                                                 common::RandomSource& random) {
  if (options.enabled && options.assets.empty()) {
    return InvalidArgument("console.assets must name the built console assets (console/dist)");
  }
  std::unique_ptr<Console> c(new Console(std::move(options), services));
  random.Fill(c->impl_->secret);
  AddAccountPages(c->impl_->router, c->impl_.get());
  console::AddCheckPages(c->impl_->router, c->impl_->context);
  console::AddAlertPages(c->impl_->router, c->impl_->context);
  console::AddAuditPages(c->impl_->router, c->impl_->context);
  console::AddPolicyPages(c->impl_->router, c->impl_->context);
  return c;
}

void Console::Handle(const HttpRequest& req, std::function<void(ConsoleReply)> reply) {
  Impl& impl = *impl_;
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto finish = [version, keep_alive, reply](Response r) {
    ConsoleReply out;
    HttpResponse& res = out.response;
    res.version(version);
    res.result(static_cast<http::status>(r.status));
    res.set(http::field::server, "mash-broker");
    res.set("Content-Security-Policy", kContentSecurityPolicy);
    res.set("X-Frame-Options", "DENY");
    res.set("X-Content-Type-Options", "nosniff");
    // same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null" with every
    // form POST, and the cross-site check below refuses them all (the browser tests saw it).
    res.set("Referrer-Policy", "same-origin");
    res.set("Cross-Origin-Opener-Policy", "same-origin");
    res.set("Cross-Origin-Resource-Policy", "same-origin");
    res.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    res.set("Strict-Transport-Security", "max-age=31536000");
    for (const auto& [name, value] : r.headers) res.insert(name, value);
    if (res.find(http::field::cache_control) == res.end()) {
      res.set(http::field::cache_control, "no-store");
    }
    res.keep_alive(keep_alive);
    if (!r.redirect.empty()) {
      res.set(http::field::location, r.redirect);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "See " + r.redirect;
      res.prepare_payload();
    } else if (r.stream) {
      res.set(http::field::content_type, r.content_type);
      res.chunked(true);
      out.stream = std::move(r.stream);
    } else {
      res.set(http::field::content_type, r.content_type);
      res.body() = std::move(r.html);
      res.prepare_payload();
    }
    reply(std::move(out));
  };

  Request r;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  if (target.empty() || target.front() != '/' || target.size() > kMaxTarget) {
    return finish(console::NotFoundPage(r, impl.service_name()));
  }
  const auto qmark = target.find('?');
  r.path = std::string(target.substr(0, qmark));
  if (qmark != std::string_view::npos) {
    auto q = console::Params::Parse(target.substr(qmark + 1));
    if (!q) return finish(console::NotFoundPage(r, impl.service_name()));
    r.query = std::move(*q);
  }
  const bool head = req.method() == http::verb::head;
  if (head) r.method = "GET";

  // Static assets: public, cached by the browser for a while.
  if (r.path.rfind("/assets/", 0) == 0) {
    static const std::regex kAsset("^/assets/([A-Za-z0-9_-][A-Za-z0-9_./-]{0,200})$");
    std::smatch m;
    std::optional<Impl::Asset> asset;
    if (r.method == "GET" && std::regex_match(r.path, m, kAsset) &&
        m[1].str().find("..") == std::string::npos) {
      asset = impl.LoadAsset(m[1].str());
    }
    if (!asset) return finish(console::NotFoundPage(r, impl.service_name()));
    Response res;
    res.content_type = asset->type;
    res.html = head ? "" : asset->body;
    res.headers.emplace_back("Cache-Control", "public, max-age=3600");
    return finish(std::move(res));
  }

  // Who is asking: the session cookie, checked against the staff directory.
  const std::string cookies(req[http::field::cookie]);
  const std::string token = CookieValue(cookies, kSessionCookie);
  bool ended = false;
  if (!token.empty() && token.size() <= 256 && impl.context.services.staff != nullptr) {
    r.staff = impl.context.services.staff->Authenticate(token);
    ended = !r.staff.has_value();
  }
  if (r.staff) {
    if (r.staff->role == "ig_officer" || r.staff->role == "dpo") {
      r.alerts_nav = console::AlertsNavText(impl.context.services);
    }
    r.csrf = impl.Mac("csrf", token);
    r.session_key = impl.Mac("session", token).substr(0, 32);
  }

  std::vector<std::string> params;
  bool path_known = false;
  const console::Router::Route* route = impl.router.Find(r.method, r.path, params, path_known);
  if (route == nullptr) {
    if (path_known) {
      Response res = console::NotFoundPage(r, impl.service_name());
      res.status = 405;
      res.headers.emplace_back("Allow", r.method == "GET" ? "POST" : "GET");
      return finish(std::move(res));
    }
    return finish(console::NotFoundPage(r, impl.service_name()));
  }
  r.params = std::move(params);

  if (route->requires_login && !r.staff) {
    std::string to = "/login";
    if (ended) to += "?expired=1";
    if (r.method == "GET" && r.path != "/" && ValidNext(r.path)) {
      to += (ended ? "&next=" : "?next=") + console::UrlEncode(r.path);
    }
    Response res = console::Redirect(to);
    if (ended) res.headers.emplace_back("Set-Cookie", SessionCookie("", true));
    return finish(std::move(res));
  }

  // Before login, forms are bound to a random cookie of their own.
  std::string login_cookie;
  if (!route->requires_login) {
    login_cookie = CookieValue(cookies, kLoginCookie);
    if (login_cookie.size() != 32) login_cookie.clear();
  }

  if (r.method == "POST") {
    // Refuse cross-site requests outright, before looking at the form.
    const auto fetch_site = req["Sec-Fetch-Site"];
    const auto origin = req[http::field::origin];
    const std::string self_origin = "https://" + std::string(req[http::field::host]);
    const bool cross_site =
        (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none") ||
        (!origin.empty() && origin != self_origin);
    const auto content_type = req[http::field::content_type];
    std::optional<console::Params> form;
    if (content_type.substr(0, 33) == "application/x-www-form-urlencoded") {
      form = console::Params::Parse(req.body());
    }
    const std::string sent = form ? form->Get("csrf") : "";
    const std::string expected =
        r.staff ? r.csrf : (login_cookie.empty() ? "" : impl.Mac("login", login_cookie));
    const bool csrf_ok = !expected.empty() && sent.size() == expected.size() &&
                         sodium_memcmp(sent.data(), expected.data(), expected.size()) == 0;
    if (cross_site || !form || !csrf_ok) {
      common::LogWarn("console.form_refused",
                      {{"why", cross_site ? "cross_site" : (!form ? "not_a_form" : "csrf")},
                       {"logged_in", r.staff.has_value()}});
      if (r.staff && impl.context.services.checks != nullptr) {
        impl.context.services.checks->RecordRefusal(*r.staff,
                                                    "console: form without its "
                                                    "CSRF token or cross-site");
      }
      Page page;
      page.title = "Your form could not be sent";
      page.body = console::Paragraph(
                      "The form was out of date or did not come from this service. Nothing has "
                      "been changed.") +
                  "<p class=\"govuk-body\">" +
                  console::Link(r.staff ? r.path : "/login", "Go back and try again") + "</p>";
      return finish(console::PageResponse(r, page, impl.service_name(), 403));
    }
    r.form = std::move(*form);
  }

  if (r.method == "POST" && r.path == "/logout" && impl.context.services.staff != nullptr) {
    if (Status s = impl.context.services.staff->Logout(token); !s.ok()) {
      common::LogError("console.logout_failed", {{"error", s.message()}});
      return finish(console::ProblemPage(r, impl.service_name()));
    }
  }

  if (!route->roles.empty() && route->roles.count(r.staff->role) == 0) {
    common::LogInfo("console.role_refused", {{"role", r.staff->role}});
    if (impl.context.services.checks != nullptr) {
      impl.context.services.checks->RecordRefusal(*r.staff, "console: role");
    }
    return finish(console::NotFoundPage(r, impl.service_name()));
  }

  std::vector<std::pair<std::string, std::string>> extra_headers;
  if (!route->requires_login) {
    // A fresh login cookie when there is none; the form's token is bound to it.
    if (login_cookie.empty()) {
      std::array<uint8_t, 16> raw{};
      randombytes_buf(raw.data(), raw.size());
      login_cookie = common::HexEncode(raw);
      extra_headers.emplace_back("Set-Cookie",
                                 std::string(kLoginCookie) + "=" + login_cookie +
                                     "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600");
    }
    r.csrf = impl.Mac("login", login_cookie);
    r.session_key = impl.Mac("session", login_cookie).substr(0, 32);
    r.staff.reset();  // public pages show no navigation
  }

  auto done = [finish, extra_headers, head](Response res) {
    for (const auto& h : extra_headers) res.headers.push_back(h);
    if (head) res.html.clear();
    finish(std::move(res));
  };
  // A page that fails on data it did not expect answers "there is a problem"; the broker goes on.
  try {
    route->handler(r, done);
  } catch (const std::exception& e) {
    common::LogError("console.page_failed", {{"error", e.what()}});
    done(console::ProblemPage(r, impl.service_name()));
  }
}

}  // namespace mash::broker
