// The web console's core over real HTTPS against a real broker (docs/console.md): login with a
// staff password, the __Host- cookies, the CSRF token every form needs, cross-site posts, the
// security headers, role refusals, expired sessions, sign-out, and the assets folder's limits.
// What a person does with the pages is tested in a browser (tests/browser/).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/beast/http.hpp>
#include <fstream>
#include <regex>

#include "harness.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

namespace http = boost::beast::http;
using Response = http::response<http::string_body>;

constexpr const char* kAdminToken =
    "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
constexpr const char* kPassword = "a long and private passphrase";

// The value of cookie `name` among a response's Set-Cookie headers, and its attributes.
struct SetCookie {
  std::string value;
  std::string attributes;
  bool found = false;
};
SetCookie CookieOf(const Response& res, const std::string& name) {
  SetCookie out;
  for (const auto& field : res) {
    if (field.name() != http::field::set_cookie) continue;
    const std::string v(field.value());
    if (v.rfind(name + "=", 0) != 0) continue;
    const auto semi = v.find(';');
    out.value = v.substr(name.size() + 1, semi - name.size() - 1);
    out.attributes = semi == std::string::npos ? "" : v.substr(semi);
    out.found = true;
  }
  return out;
}

std::string CsrfOf(const std::string& html) {
  static const std::regex kCsrf("name=\"csrf\" value=\"([0-9a-f]+)\"");
  std::smatch m;
  return std::regex_search(html, m, kCsrf) ? m[1].str() : "";
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    assets_ = dir_.path() / "assets";
    std::filesystem::create_directories(assets_ / "images");
    std::ofstream(assets_ / "console.css") << "body { margin: 0 }";
    std::ofstream(assets_ / "console.js") << "export {}";
    std::ofstream(dir_.path() / "secret.css") << "outside the assets folder";
    std::filesystem::create_symlink(dir_.path() / "secret.css", assets_ / "link.css");
    hub_ = std::make_unique<TestHub>([this](broker::BrokerConfig& c) {
      const auto digest = crypto::Sha256(common::AsBytes(kAdminToken));
      c.api_tokens.push_back({"ada.admin", "admin", common::HexEncode(digest), ""});
      c.console.enabled = true;
      c.console.assets = assets_;
    });
    port_ = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
    AddUser("pat.p", "practitioner", "north");
  }

  void AddUser(const std::string& user, const std::string& role, const std::string& team) {
    const HttpReply added = HttpsCall(
        hub_->pki(), port_, "POST", "/api/v1/users",
        nlohmann::json{{"user", user}, {"name", "Staff"}, {"role", role}, {"team", team}}.dump(),
        kAdminToken);
    ASSERT_EQ(added.status, 201) << added.body.dump();
    const HttpReply token =
        HttpsCall(hub_->pki(), port_, "POST", "/api/v1/tokens",
                  nlohmann::json{{"user", user},
                                 {"password", added.body.value("one_time_password", "")},
                                 {"new_password", kPassword}}
                      .dump());
    ASSERT_EQ(token.status, 201) << token.body.dump();
  }

  Response Get(const std::string& target, const std::string& cookie = "") {
    http::request<http::string_body> req{http::verb::get, target, 11};
    if (!cookie.empty()) req.set(http::field::cookie, cookie);
    return HttpsExchange(hub_->pki(), port_, std::move(req));
  }

  Response Post(const std::string& target, const std::string& form, const std::string& cookie,
                std::function<void(http::request<http::string_body>&)> tune = {}) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.set(http::field::origin, "https://localhost");
    req.set("Sec-Fetch-Site", "same-origin");
    if (!cookie.empty()) req.set(http::field::cookie, cookie);
    req.body() = form;
    if (tune) tune(req);
    return HttpsExchange(hub_->pki(), port_, std::move(req));
  }

  // Signs in as `user` through the login form; returns the session cookie ("name=value").
  std::string SignIn(const std::string& user) {
    const Response page = Get("/login");
    const SetCookie login = CookieOf(page, "__Host-mash-login");
    EXPECT_TRUE(login.found);
    const Response res = Post("/login",
                              "csrf=" + CsrfOf(page.body()) + "&user=" + user +
                                  "&password=a+long+and+private+"
                                  "passphrase",
                              "__Host-mash-login=" + login.value);
    EXPECT_EQ(res.result_int(), 303) << res.body();
    const SetCookie session = CookieOf(res, "__Host-mash-session");
    EXPECT_TRUE(session.found);
    return "__Host-mash-session=" + session.value;
  }

  size_t RefusalsMentioning(const std::string& text) {
    size_t n = 0;
    for (const auto& e : AuditEventsOf(*hub_)) {
      if (e.type == audit::EventType::kRequestRefused && e.detail.find(text) != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  TempDir dir_{"mash-console"};
  std::filesystem::path assets_;
  std::unique_ptr<TestHub> hub_;
  uint16_t port_ = 0;
};

TEST_F(ConsoleTest, SignsInWithAPasswordIntoAHostOnlySessionCookie) {
  const Response page = Get("/login");
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_NE(page.body().find("govuk-generic-header"), std::string::npos);
  const SetCookie login = CookieOf(page, "__Host-mash-login");
  ASSERT_TRUE(login.found);
  EXPECT_EQ(login.value.size(), 32u);
  EXPECT_EQ(login.attributes, "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600");
  const std::string csrf = CsrfOf(page.body());
  ASSERT_EQ(csrf.size(), 64u);
  const std::string cookie = "__Host-mash-login=" + login.value;

  // A wrong password and an unknown user get the same page and message.
  const Response wrong = Post("/login", "csrf=" + csrf + "&user=pat.p&password=nope", cookie);
  const Response unknown = Post("/login", "csrf=" + csrf + "&user=nobody&password=nope", cookie);
  EXPECT_EQ(wrong.result_int(), 401);
  EXPECT_EQ(unknown.result_int(), 401);
  EXPECT_NE(wrong.body().find("Enter a correct user ID and password"), std::string::npos);
  EXPECT_NE(unknown.body().find("Enter a correct user ID and password"), std::string::npos);
  EXPECT_FALSE(CookieOf(wrong, "__Host-mash-session").found);
  // Empty fields are named in the error summary.
  const Response empty = Post("/login", "csrf=" + csrf + "&user=&password=", cookie);
  EXPECT_EQ(empty.result_int(), 400);
  EXPECT_NE(empty.body().find("href=\"#user\">Enter your user ID"), std::string::npos);
  EXPECT_NE(empty.body().find("href=\"#password\">Enter your password"), std::string::npos);

  const Response ok = Post(
      "/login", "csrf=" + csrf + "&user=pat.p&password=a+long+and+private+passphrase&next=/checks",
      cookie);
  ASSERT_EQ(ok.result_int(), 303) << ok.body();
  EXPECT_EQ(ok[http::field::location], "/checks");
  const SetCookie session = CookieOf(ok, "__Host-mash-session");
  ASSERT_TRUE(session.found);
  EXPECT_EQ(session.value.size(), 64u);
  EXPECT_EQ(session.attributes, "; Path=/; Secure; HttpOnly; SameSite=Strict");
  // The pre-login cookie is cleared.
  EXPECT_NE(CookieOf(ok, "__Host-mash-login").attributes.find("Max-Age=0"), std::string::npos);

  const Response checks = Get("/checks", "__Host-mash-session=" + session.value);
  EXPECT_EQ(checks.result_int(), 200);
  EXPECT_NE(checks.body().find("Signed in as pat.p (practitioner, north)"), std::string::npos);
  // A next that leaves the console is not followed.
  const Response away = Post(
      "/login", "csrf=" + csrf + "&user=pat.p&password=a+long+and+private+passphrase&next=//evil",
      cookie);
  EXPECT_EQ(away[http::field::location], "/");
}

TEST_F(ConsoleTest, EveryResponseCarriesAStrictPolicyAndPagesAreNotCached) {
  const std::string session = SignIn("pat.p");
  for (const auto& [target, cookie] :
       std::vector<std::pair<std::string, std::string>>{{"/login", ""},
                                                        {"/checks", session},
                                                        {"/no-such-page", session},
                                                        {"/assets/console.css", ""}}) {
    const Response res = Get(target, cookie);
    const std::string csp(res["Content-Security-Policy"]);
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << target;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << target;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << target;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << target;
    EXPECT_EQ(res["X-Frame-Options"], "DENY") << target;
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff") << target;
    EXPECT_FALSE(res["Strict-Transport-Security"].empty()) << target;
    if (target.rfind("/assets/", 0) != 0) {
      EXPECT_EQ(res["Cache-Control"], "no-store") << target;
    }
  }
}

TEST_F(ConsoleTest, APostWithoutItsTokenOrFromAnotherSiteIsRefusedAndRecorded) {
  const std::string session = SignIn("pat.p");
  const Response page = Get("/checks/new", session);
  const std::string csrf = CsrfOf(page.body());
  ASSERT_EQ(csrf.size(), 64u);

  // No token, a wrong one, another session's token: 403 before the page runs (no draft made).
  EXPECT_EQ(Post("/checks/new", "", session).result_int(), 403);
  EXPECT_EQ(Post("/checks/new", "csrf=" + std::string(64, '0'), session).result_int(), 403);
  const std::string other = SignIn("pat.p");
  const std::string other_csrf = CsrfOf(Get("/checks/new", other).body());
  EXPECT_NE(other_csrf, csrf);
  EXPECT_EQ(Post("/checks/new", "csrf=" + other_csrf, session).result_int(), 403);
  EXPECT_EQ(Get("/checks/new/subject", session)[http::field::location], "/checks/new");
  // The right token but from another site, or not a form.
  EXPECT_EQ(Post("/checks/new", "csrf=" + csrf, session,
                 [](auto& req) { req.set(http::field::origin, "https://evil.example"); })
                .result_int(),
            403);
  EXPECT_EQ(Post("/checks/new", "csrf=" + csrf, session,
                 [](auto& req) { req.set("Sec-Fetch-Site", "cross-site"); })
                .result_int(),
            403);
  EXPECT_EQ(Post("/checks/new", "{\"csrf\":\"" + csrf + "\"}", session,
                 [](auto& req) { req.set(http::field::content_type, "application/json"); })
                .result_int(),
            403);
  EXPECT_EQ(Post("/checks/new", "csrf=" + csrf + "&x=%zz", session).result_int(), 403);
  EXPECT_EQ(RefusalsMentioning("console: form without its CSRF token"), 7u);

  // With everything right the draft starts.
  const Response ok = Post("/checks/new", "csrf=" + csrf, session);
  EXPECT_EQ(ok.result_int(), 303);
  EXPECT_EQ(ok[http::field::location], "/checks/new/subject");
  EXPECT_EQ(Get("/checks/new/subject", session).result_int(), 200);

  // Login forms are bound to their own cookie.
  const Response login = Get("/login");
  const std::string login_csrf = CsrfOf(login.body());
  EXPECT_EQ(Post("/login", "csrf=" + login_csrf + "&user=pat.p&password=x", "").result_int(), 403);
  EXPECT_EQ(Post("/login", "csrf=" + login_csrf + "&user=pat.p&password=x",
                 "__Host-mash-login=" + std::string(32, 'a'))
                .result_int(),
            403);
}

TEST_F(ConsoleTest, WhatARoleMayNotUseIsNotFoundAndRecorded) {
  const std::string session = SignIn("pat.p");
  const Response res = Get("/deadlines", session);  // managers only
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NE(res.body().find("Page not found"), std::string::npos);
  EXPECT_EQ(RefusalsMentioning("console: role"), 1u);
  // A check that does not exist and one of another team look the same.
  EXPECT_EQ(Get("/checks/" + std::string(32, 'a'), session).result_int(), 404);
  EXPECT_EQ(Get("/checks/not-an-id", session).result_int(), 404);
}

TEST_F(ConsoleTest, WithoutASessionPagesSendYouToSignInAndSigningOutEndsIt) {
  Response res = Get("/checks");
  EXPECT_EQ(res.result_int(), 303);
  EXPECT_EQ(res[http::field::location], "/login?next=%2Fchecks");
  // A cookie the broker does not know (made up, or ended) is cleared.
  res = Get("/checks", "__Host-mash-session=" + std::string(64, 'f'));
  EXPECT_EQ(res[http::field::location], "/login?expired=1&next=%2Fchecks");
  EXPECT_NE(CookieOf(res, "__Host-mash-session").attributes.find("Max-Age=0"), std::string::npos);

  const std::string session = SignIn("pat.p");
  const std::string csrf = CsrfOf(Get("/checks", session).body());
  res = Post("/logout", "csrf=" + csrf, session);
  EXPECT_EQ(res.result_int(), 303);
  EXPECT_EQ(res[http::field::location], "/login?signed-out=1");
  // The session is over at the broker, not only in this browser.
  EXPECT_EQ(Get("/checks", session)[http::field::location], "/login?expired=1&next=%2Fchecks");
  // Signing out needs the form's token too.
  const std::string again = SignIn("pat.p");
  EXPECT_EQ(Post("/logout", "", again).result_int(), 403);
  EXPECT_EQ(Get("/checks", again).result_int(), 200);
}

TEST_F(ConsoleTest, AssetsComeOnlyFromTheAssetsFolder) {
  Response res = Get("/assets/console.css");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/css; charset=utf-8");
  EXPECT_EQ(res.body(), "body { margin: 0 }");
  EXPECT_EQ(Get("/assets/console.js")[http::field::content_type], "text/javascript; charset=utf-8");
  for (const char* bad :
       {"/assets/../secret.css", "/assets/%2e%2e/secret.css", "/assets/images/../../secret.css",
        "/assets/link.css", "/assets/missing.css", "/assets/broker.toml", "/assets/",
        "/assets/.hidden.css"}) {
    res = Get(bad);
    EXPECT_EQ(res.result_int(), 404) << bad;
    EXPECT_EQ(res.body().find("outside the assets folder"), std::string::npos) << bad;
  }
}

TEST(ConsoleDisabledTest, WithoutTheConsoleOnlyTheApiAnswers) {
  TestHub hub;
  const uint16_t port = OnIo(hub.io(), [&] { return hub.broker().api_port(); });
  http::request<http::string_body> req{http::verb::get, "/login", 11};
  const Response res = HttpsExchange(hub.pki(), port, std::move(req));
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

}  // namespace
}  // namespace mash::testing
