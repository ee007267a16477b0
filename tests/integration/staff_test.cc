// Staff accounts over the real HTTPS API: an admin (a broker.toml bootstrap token) adds a user,
// the user sets a password and gets a personal token, uses it, logs in and out; admin routes need
// the admin role; lockout and disabling take effect.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/beast/http.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.h"
#include "mash/audit/query.h"
#include "mash/cli/mashctl.h"
#include "mash/common/private_file.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr const char* kAdminToken =
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
constexpr const char* kPassword = "a long and private passphrase";

class StaffApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>([](broker::BrokerConfig& c) {
      const auto digest = crypto::Sha256(common::AsBytes(kAdminToken));
      c.api_tokens.push_back({"ada.admin", "admin", common::HexEncode(digest), ""});
      c.staff.lockout_attempts = 3;
    });
    port_ = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
  }

  HttpReply Call(http::verb verb, const std::string& target, const nlohmann::json& body = nullptr,
                 const std::string& token = kAdminToken) {
    return HttpsCall(hub_->pki(), port_, std::string(http::to_string(verb)), target,
                     body.is_null() ? "" : body.dump(), token);
  }

  // Adds `user` and sets kPassword with its one-time password; returns a personal token.
  std::string AddUserWithToken(const std::string& user, const std::string& role) {
    const HttpReply added =
        Call(http::verb::post, "/api/v1/users",
             {{"user", user}, {"name", "Sam Staff"}, {"role", role}, {"team", "mash"}});
    EXPECT_EQ(added.status, 201) << added.body.dump();
    const std::string otp = added.body.value("one_time_password", "");
    const HttpReply token = Call(
        http::verb::post, "/api/v1/tokens",
        {{"user", user}, {"password", otp}, {"new_password", kPassword}, {"label", "cli"}}, "");
    EXPECT_EQ(token.status, 201) << token.body.dump();
    return token.body.value("token", "");
  }

  std::vector<audit::AuditEvent> AuditEvents() {
    auto& log = hub_->broker().audit();
    log.Flush();
    auto db =
        storage::Database::Open({hub_->config().audit.database, hub_->config().audit.database_key});
    EXPECT_TRUE(db.ok());
    auto events = audit::QueryEvents(**db, {});
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<audit::AuditEvent>{};
  }

  std::unique_ptr<TestHub> hub_;
  uint16_t port_ = 0;
};

TEST_F(StaffApiTest, AdminAddsAUserWhoSetsAPasswordAndUsesAPersonalToken) {
  const std::string token = AddUserWithToken("sam.p", "practitioner");
  ASSERT_EQ(token.size(), 64u);
  const HttpReply agencies = Call(http::verb::get, "/api/v1/agencies", nullptr, token);
  EXPECT_EQ(agencies.status, 200) << agencies.body.dump();
  EXPECT_TRUE(agencies.body["agencies"].is_array());

  // A session: login, use, logout.
  const HttpReply login =
      Call(http::verb::post, "/api/v1/session", {{"user", "sam.p"}, {"password", kPassword}}, "");
  ASSERT_EQ(login.status, 201) << login.body.dump();
  EXPECT_EQ(login.body["role"], "practitioner");
  EXPECT_EQ(login.body["team"], "mash");
  const std::string session = login.body["token"];
  EXPECT_EQ(Call(http::verb::get, "/api/v1/agencies", nullptr, session).status, 200);
  EXPECT_EQ(Call(http::verb::delete_, "/api/v1/session", nullptr, session).status, 204);
  EXPECT_EQ(Call(http::verb::get, "/api/v1/agencies", nullptr, session).status, 401);

  // The list shows the account and no secret.
  const HttpReply users = Call(http::verb::get, "/api/v1/users");
  ASSERT_EQ(users.status, 200) << users.body.dump();
  ASSERT_EQ(users.body["users"].size(), 1u);
  EXPECT_EQ(users.body["users"][0]["user"], "sam.p");
  EXPECT_EQ(users.body["users"][0]["one_time_password"], false);
  EXPECT_EQ(users.body.dump().find("argon2"), std::string::npos);

  // Taken ids and bad fields.
  const HttpReply again =
      Call(http::verb::post, "/api/v1/users",
           {{"user", "sam.p"}, {"name", "S"}, {"role", "manager"}, {"team", "mash"}});
  EXPECT_EQ(again.status, 409);
  const HttpReply bootstrap =
      Call(http::verb::post, "/api/v1/users",
           {{"user", "ada.admin"}, {"name", "A"}, {"role", "admin"}, {"team", "mash"}});
  EXPECT_EQ(bootstrap.status, 409);
  const HttpReply bad_role =
      Call(http::verb::post, "/api/v1/users",
           {{"user", "kim"}, {"name", "K"}, {"role", "boss"}, {"team", "mash"}});
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_NE(bad_role.body["error"]["message"].get<std::string>().find("/role"), std::string::npos);
  const HttpReply extra = Call(
      http::verb::post, "/api/v1/users",
      {{"user", "kim"}, {"name", "K"}, {"role", "manager"}, {"team", "mash"}, {"password", "x"}});
  EXPECT_EQ(extra.status, 400);

  const auto events = AuditEvents();
  std::map<std::string, int> seen;
  for (const auto& e : events) {
    if (e.type == audit::EventType::kUserChanged) seen[e.person]++;
    EXPECT_EQ(e.detail.find(kPassword), std::string::npos);
  }
  EXPECT_GE(seen["ada.admin"], 1);
  EXPECT_GE(seen["sam.p"], 2);  // password set, token issued
}

TEST_F(StaffApiTest, OnlyAdminsAdministerUsers) {
  const std::string token = AddUserWithToken("mo.m", "manager");
  EXPECT_EQ(Call(http::verb::get, "/api/v1/users", nullptr, token).status, 403);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/users/reset", {{"user", "mo.m"}}, token).status, 403);
  const HttpReply anonymous = Call(http::verb::get, "/api/v1/users", nullptr, "");
  EXPECT_EQ(anonymous.status, 401);
  const auto events = AuditEvents();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const audit::AuditEvent& e) {
    return e.type == audit::EventType::kRequestRefused && e.person == "mo.m" &&
           e.detail.find("admin role") != std::string::npos;
  }));
}

TEST_F(StaffApiTest, RepeatedBadPasswordsLockTheAccountBehindTheSameRefusal) {
  ASSERT_FALSE(AddUserWithToken("lee", "practitioner").empty());
  const nlohmann::json wrong = {{"user", "lee"}, {"password", "not the password"}};
  HttpReply first;
  for (int i = 0; i < 3; ++i) {
    first = Call(http::verb::post, "/api/v1/session", wrong, "");
    EXPECT_EQ(first.status, 401);
    EXPECT_EQ(first.body["error"]["code"], "refused");
  }
  const HttpReply locked =
      Call(http::verb::post, "/api/v1/session", {{"user", "lee"}, {"password", kPassword}}, "");
  EXPECT_EQ(locked.status, 401);
  EXPECT_EQ(locked.body, first.body);  // a lock is not revealed
  const HttpReply unknown =
      Call(http::verb::post, "/api/v1/session", {{"user", "nobody"}, {"password", kPassword}}, "");
  EXPECT_EQ(unknown.body, first.body);
  // The admin resets the account: the lock goes, the new one-time password sets a password.
  const HttpReply reset = Call(http::verb::post, "/api/v1/users/reset", {{"user", "lee"}});
  ASSERT_EQ(reset.status, 200) << reset.body.dump();
  const HttpReply token = Call(http::verb::post, "/api/v1/tokens",
                               {{"user", "lee"},
                                {"password", reset.body["one_time_password"]},
                                {"new_password", "another long passphrase"},
                                {"days", 7}},
                               "");
  EXPECT_EQ(token.status, 201) << token.body.dump();
  EXPECT_EQ(
      Call(http::verb::get, "/api/v1/agencies", nullptr, token.body.value("token", "")).status,
      200);
}

TEST_F(StaffApiTest, ADisabledUsersTokenStopsWorking) {
  const std::string token = AddUserWithToken("pat", "practitioner");
  ASSERT_EQ(Call(http::verb::get, "/api/v1/agencies", nullptr, token).status, 200);
  const HttpReply disabled = Call(http::verb::post, "/api/v1/users/disable", {{"user", "pat"}});
  ASSERT_EQ(disabled.status, 200) << disabled.body.dump();
  EXPECT_EQ(Call(http::verb::get, "/api/v1/agencies", nullptr, token).status, 401);
  EXPECT_EQ(
      Call(http::verb::post, "/api/v1/session", {{"user", "pat"}, {"password", kPassword}}, "")
          .status,
      401);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/users/disable", {{"user", "ghost"}}).status, 404);
}

TEST_F(StaffApiTest, OneTimePasswordsDoNotLogIn) {
  const HttpReply added =
      Call(http::verb::post, "/api/v1/users",
           {{"user", "new.starter"}, {"name", "N"}, {"role", "dpo"}, {"team", "ig"}});
  ASSERT_EQ(added.status, 201);
  const HttpReply login =
      Call(http::verb::post, "/api/v1/session",
           {{"user", "new.starter"}, {"password", added.body["one_time_password"]}}, "");
  EXPECT_EQ(login.status, 401);
  const HttpReply no_new =
      Call(http::verb::post, "/api/v1/tokens",
           {{"user", "new.starter"}, {"password", added.body["one_time_password"]}}, "");
  EXPECT_EQ(no_new.status, 400);
  EXPECT_NE(no_new.body.dump().find("/new_password"), std::string::npos);
}

// mashctl against the real broker: the admin adds a user, the user turns the one-time password
// into a password and a personal token file that every other command then uses.
TEST_F(StaffApiTest, MashctlUserCommandsEndToEnd) {
  const auto dir = hub_->dir().path();
  const auto admin_file = dir / "admin.token";
  ASSERT_TRUE(common::WritePrivateFile(admin_file, std::string(kAdminToken) + "\n", true).ok());
  std::vector<std::string> conn = {"--broker", "https://localhost:" + std::to_string(port_), "--ca",
                                   hub_->pki().root_ca().string()};
  for (const auto& crl : hub_->pki().crls()) {
    conn.push_back("--crl");
    conn.push_back(crl.string());
  }
  std::ostringstream out;
  std::ostringstream err;
  const auto run = [&](std::vector<std::string> args, const std::filesystem::path& token = {}) {
    args.insert(args.end(), conn.begin(), conn.end());
    if (!token.empty()) {
      args.push_back("--token-file");
      args.push_back(token.string());
    }
    out.str("");
    err.str("");
    return cli::RunMashctl(args, out, err);
  };
  const auto otp_file = dir / "cli.otp";
  ASSERT_EQ(run({"user", "add", "--user", "cli.user", "--name", "Casey", "--role", "practitioner",
                 "--team", "mash", "--out", otp_file.string()},
                admin_file),
            0)
      << err.str();
  struct stat st {};
  ASSERT_EQ(::stat(otp_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The password is in the file, not on the screen.
  EXPECT_EQ(out.str().find(common::ReadPrivateFile(otp_file, 100)->substr(0, 24)),
            std::string::npos);

  const auto new_file = dir / "cli.new";
  ASSERT_TRUE(common::WritePrivateFile(new_file, "my own long passphrase\n", true).ok());
  const auto token_file = dir / "cli.token";
  // A password file others can read is refused before anything is sent.
  const auto loose = dir / "loose.pw";
  std::ofstream(loose) << "my own long passphrase\n";
  ::chmod(loose.c_str(), 0644);
  EXPECT_EQ(run({"user", "token", "--user", "cli.user", "--password-file", loose.string(), "--out",
                 token_file.string()}),
            2);
  EXPECT_EQ(run({"user", "token", "--user", "cli.user", "--password-file", otp_file.string(),
                 "--new-password-file", new_file.string(), "--out", token_file.string(), "--days",
                 "30", "--label", "laptop"}),
            0)
      << err.str();
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(run({"agency", "list"}, token_file), 0) << err.str();
  // The one-time password is spent.
  EXPECT_EQ(run({"user", "token", "--user", "cli.user", "--password-file", otp_file.string(),
                 "--new-password-file", new_file.string(), "--out", (dir / "again").string()}),
            2);
  // Not an admin: refused (exit 1); the admin lists and disables.
  EXPECT_EQ(run({"user", "list"}, token_file), 1);
  EXPECT_EQ(run({"user", "list", "--json"}, admin_file), 0) << err.str();
  EXPECT_NE(out.str().find("\"cli.user\""), std::string::npos);
  EXPECT_EQ(run({"user", "disable", "--user", "cli.user"}, admin_file), 0) << err.str();
  EXPECT_EQ(run({"agency", "list"}, token_file), 2);  // 401: the token no longer works
  EXPECT_EQ(run({"user", "reset", "--user", "cli.user"}, admin_file), 0) << err.str();
  EXPECT_NE(out.str().find("one-time password"), std::string::npos);
}

}  // namespace
}  // namespace mash::testing
