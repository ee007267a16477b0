#include "mash/cli/mashctl.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "mash/cli/check_request.h"
#include "mash/cli/secrets.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/validator.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mash::cli {
namespace {

using nlohmann::json;

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

// A broker in memory: answers each request with the next queued reply and records requests.
struct FakeBroker {
  struct Request {
    std::string method;
    std::string target;
    json body;
  };
  std::vector<Request> requests;
  std::deque<Result<HttpReply>> replies;
  std::optional<ClientOptions> options;  // what the client was made with
  int clients_made = 0;

  void Queue(int status, json body) { replies.push_back(HttpReply{status, std::move(body)}); }
  void QueueError(Status s) { replies.push_back(std::move(s)); }

  Result<HttpReply> Next() {
    if (replies.empty()) return Unavailable("fake broker has no reply queued");
    auto r = std::move(replies.front());
    replies.pop_front();
    return r;
  }
};

class FakeClient final : public ApiClient {
 public:
  explicit FakeClient(FakeBroker* broker) : broker_(broker) {}
  Result<HttpReply> Get(std::string_view target) override {
    broker_->requests.push_back({"GET", std::string(target), nullptr});
    return broker_->Next();
  }
  Result<HttpReply> Post(std::string_view target, const json& body) override {
    broker_->requests.push_back({"POST", std::string(target), body});
    return broker_->Next();
  }

 private:
  FakeBroker* broker_;
};

json Part(const std::string& agency, const std::string& state) {
  json p = {{"agency", agency}, {"name", agency}, {"state", state}};
  if (state == "answered") {
    p["elapsed_ms"] = 120;
    p["answer"] = {
        {"held", true},
        {"match", "confirmed"},
        {"matched_on", {"nhs_number"}},
        {"categories",
         {{{"category", "involvement"}, {"outcome", "shared"}, {"summary", "open case"}}}}};
  }
  return p;
}

json Check(std::vector<std::pair<std::string, std::string>> parts) {
  json agencies = json::array();
  for (const auto& [a, s] : parts) agencies.push_back(Part(a, s));
  return {{"id", kId},
          {"state", "dispatched"},
          {"purpose", "child_protection_s47"},
          {"urgency", "red"},
          {"agencies", agencies}};
}

class MashctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_path_ = dir_ / "token";
    std::ofstream(token_path_) << "tok-123\n";
    ::chmod(token_path_.c_str(), 0600);
    vars_ = {{"MASH_BROKER", "https://hub.test:8443"},
             {"MASH_CA", "/etc/mash/root-ca.pem"},
             {"MASH_CRLS", "/etc/mash/root.crl.pem:/etc/mash/issuing.crl.pem"},
             {"MASH_TOKEN_FILE", token_path_.string()}};
  }

  Environment Env() {
    Environment env;
    env.getenv = [this](const std::string& name) -> std::optional<std::string> {
      const auto it = vars_.find(name);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
    env.make_client = [this](ClientOptions options) -> Result<std::unique_ptr<ApiClient>> {
      ++broker_.clients_made;
      broker_.options = std::move(options);
      return std::unique_ptr<ApiClient>(new FakeClient(&broker_));
    };
    env.sleep = [this](std::chrono::milliseconds) { ++sleeps_; };
    env.poll_interval = std::chrono::milliseconds(1);
    return env;
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunMashctl(args, out_, err_, Env());
  }

  static std::vector<std::string> RaiseArgs() {
    return {"check",          "raise",
            "--nhs-number",   "9434765919",
            "--family-name",  "Smith",
            "--dob",          "2015-03-14",
            "--postcode",     "SW1A 1AA",
            "--postcode",     "LS1 4AP",
            "--purpose",      "child_protection_s47",
            "--lawful-basis", "uk_gdpr_6_1_e",
            "--consent",      "given",
            "--evidence-ref", "consent form 12",
            "--urgency",      "amber",
            "--level",        "1",
            "--agency",       "police",
            "--agency",       "health,education",
            "--category",     "involvement"};
  }

  // `args` without any occurrence of `flag` and its value.
  static std::vector<std::string> Without(const std::vector<std::string>& args,
                                          const std::string& flag) {
    std::vector<std::string> out;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == flag) {
        ++i;
      } else {
        out.push_back(args[i]);
      }
    }
    return out;
  }

  testing::TempDir dir_;
  std::filesystem::path token_path_;
  std::map<std::string, std::string> vars_;
  FakeBroker broker_;
  int sleeps_ = 0;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(MashctlTest, HelpDescribesEveryCommand) {
  EXPECT_EQ(Run({"--help"}), kExitOk);
  for (const char* word : {"check", "agency", "pki", "MASH_BROKER", "Exit codes"}) {
    EXPECT_NE(out_.str().find(word), std::string::npos) << word;
  }
  const std::vector<std::vector<std::string>> subs = {
      {"check", "raise"}, {"check", "show"}, {"agency", "list"}, {"pki", "keygen"},
      {"pki", "secret"},  {"pki", "token"},  {"pki", "pin"}};
  for (auto args : subs) {
    args.push_back("--help");
    EXPECT_EQ(Run(args), kExitOk) << args[1];
    EXPECT_GT(out_.str().size(), 100u) << args[1];
  }
  EXPECT_NE(out_.str().find("sha256"), std::string::npos);
}

TEST_F(MashctlTest, NoCommandIsAUsageError) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_EQ(Run({"check"}), kExitUsage);
  EXPECT_EQ(Run({"frobnicate"}), kExitUsage);
}

TEST_F(MashctlTest, RaiseSendsTheRequestBuiltFromFlagsAndPrintsTheId) {
  broker_.Queue(201, Check({{"police", "sent"}}));
  ASSERT_EQ(Run(RaiseArgs()), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), std::string(kId) + "\n");
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(broker_.requests.size(), 1u);
  const auto& req = broker_.requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/api/v1/checks");
  EXPECT_TRUE(schemas::Validate("check-request", req.body).ok());
  EXPECT_EQ(req.body["agencies"], json({"police", "health", "education"}));
  EXPECT_EQ(req.body["subject"]["postcodes"], json({"SW1A 1AA", "LS1 4AP"}));
  EXPECT_EQ(req.body["consent"]["evidence_ref"], "consent form 12");
  EXPECT_EQ(req.body["level"], 1);

  // Connection settings came from the environment.
  ASSERT_TRUE(broker_.options.has_value());
  EXPECT_EQ(broker_.options->broker.host, "hub.test");
  EXPECT_EQ(broker_.options->broker.port, "8443");
  EXPECT_EQ(broker_.options->ca_file, "/etc/mash/root-ca.pem");
  ASSERT_EQ(broker_.options->crl_files.size(), 2u);
  EXPECT_EQ(broker_.options->crl_files[1], "/etc/mash/issuing.crl.pem");
  EXPECT_EQ(broker_.options->token, "tok-123");
}

TEST_F(MashctlTest, FlagsOverrideTheEnvironment) {
  auto other_token = dir_ / "other";
  std::ofstream(other_token) << "tok-456";
  ::chmod(other_token.c_str(), 0600);
  broker_.Queue(200, {{"agencies", json::array()}});
  ASSERT_EQ(Run({"agency", "list", "--broker", "https://127.0.0.1:9443", "--ca", "ca.pem", "--crl",
                 "a.pem", "--crl", "b.pem", "--token-file", other_token.string()}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(broker_.options->broker.host, "127.0.0.1");
  EXPECT_EQ(broker_.options->ca_file, "ca.pem");
  EXPECT_EQ(broker_.options->crl_files, (std::vector<std::filesystem::path>{"a.pem", "b.pem"}));
  EXPECT_EQ(broker_.options->token, "tok-456");
}

TEST_F(MashctlTest, RaiseJsonPrintsOnlyTheBrokersJson) {
  const json created = Check({{"police", "sent"}});
  broker_.Queue(201, created);
  auto args = RaiseArgs();
  args.push_back("--json");
  ASSERT_EQ(Run(args), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), created);
}

TEST_F(MashctlTest, ConsentGivenWithoutEvidenceIsRefusedLocally) {
  EXPECT_EQ(Run(Without(RaiseArgs(), "--evidence-ref")), kExitUsage);
  EXPECT_NE(err_.str().find("evidence_ref"), std::string::npos) << err_.str();
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(broker_.clients_made, 0);  // nothing was sent, no connection was made
}

TEST_F(MashctlTest, UnknownUrgencyIsRefused) {
  auto args = Without(RaiseArgs(), "--urgency");
  args.insert(args.end(), {"--urgency", "purple"});
  EXPECT_EQ(Run(args), kExitUsage);
  EXPECT_NE(err_.str().find("--urgency"), std::string::npos);
  EXPECT_EQ(broker_.clients_made, 0);
}

TEST_F(MashctlTest, OtherLocalRefusals) {
  const std::vector<std::vector<std::string>> cases = {
      Without(RaiseArgs(), "--agency"),
      Without(RaiseArgs(), "--purpose"),
      [] {
        auto a = Without(Without(RaiseArgs(), "--evidence-ref"), "--consent");
        a.insert(a.end(), {"--consent", "refused"});  // needs a ground and a justification
        return a;
      }(),
      [] {
        auto a = Without(RaiseArgs(), "--level");
        a.insert(a.end(), {"--level", "4"});
        return a;
      }(),
      [] {
        auto a = Without(RaiseArgs(), "--dob");
        a.insert(a.end(), {"--dob", "2015-02-30"});
        return a;
      }(),
      [] {
        auto a = RaiseArgs();
        a.insert(a.end(), {"--sex", "x"});
        return a;
      }(),
      [] {
        auto a = RaiseArgs();
        a.insert(a.end(), {"--consent", "given"});  // given twice
        return a;
      }(),
  };
  for (const auto& args : cases) {
    EXPECT_EQ(Run(args), kExitUsage) << err_.str();
  }
  EXPECT_EQ(broker_.clients_made, 0);
}

TEST_F(MashctlTest, RaiseFromFile) {
  const json body = {{"subject", {{"family_name", "Smith"}, {"dob", "2015-03-14"}}},
                     {"household", {{{"given_names", "Sam"}}}},
                     {"purpose", "early_help"},
                     {"lawful_basis", "uk_gdpr_6_1_e"},
                     {"consent", {{"state", "given"}, {"evidence_ref", "ref-1"}}},
                     {"urgency", "green"},
                     {"agencies", {"police"}}};
  const auto path = dir_ / "request.json";
  std::ofstream(path) << body.dump();
  broker_.Queue(201, Check({{"police", "sent"}}));
  ASSERT_EQ(Run({"check", "raise", "--from-file", path.string()}), kExitOk) << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].body, body);

  // Mixed with request flags, not valid, not JSON, missing: all refused before any connection.
  EXPECT_EQ(Run({"check", "raise", "--from-file", path.string(), "--urgency", "red"}), kExitUsage);
  std::ofstream(dir_ / "bad.json") << R"({"purpose": "early_help"})";
  EXPECT_EQ(Run({"check", "raise", "--from-file", (dir_ / "bad.json").string()}), kExitUsage);
  std::ofstream(dir_ / "garbage.json") << "{not json";
  EXPECT_EQ(Run({"check", "raise", "--from-file", (dir_ / "garbage.json").string()}), kExitUsage);
  EXPECT_EQ(Run({"check", "raise", "--from-file", (dir_ / "none.json").string()}), kExitUsage);
  EXPECT_EQ(broker_.clients_made, 1);
}

TEST_F(MashctlTest, RaiseWaitPollsUntilEveryAgencyHasAnswered) {
  broker_.Queue(201, Check({{"police", "waiting_for_agent"}, {"health", "sent"}}));
  broker_.Queue(200, Check({{"police", "sent"}, {"health", "answered"}}));
  broker_.Queue(200, Check({{"police", "answered"}, {"health", "answered"}}));
  auto args = RaiseArgs();
  args.insert(args.end(), {"--wait", "30"});
  ASSERT_EQ(Run(args), kExitOk) << err_.str();
  ASSERT_EQ(broker_.requests.size(), 3u);
  EXPECT_EQ(broker_.requests[1].method, "GET");
  EXPECT_EQ(broker_.requests[1].target, std::string("/api/v1/checks/") + kId);
  EXPECT_EQ(sleeps_, 2);
  const std::string text = out_.str();
  EXPECT_NE(text.find("agency police"), std::string::npos) << text;
  EXPECT_NE(text.find("involvement: shared"), std::string::npos) << text;
  EXPECT_NE(text.find("summary: open case"), std::string::npos) << text;
}

TEST_F(MashctlTest, WaitThatRunsOutIsACheckFailure) {
  broker_.Queue(200, Check({{"police", "sent"}}));
  ASSERT_EQ(Run({"check", "show", kId, "--wait", "0", "--json"}), kExitCheckFailed);
  EXPECT_EQ(json::parse(out_.str())["id"], kId);  // still the check, as JSON only
  EXPECT_NE(err_.str().find("waiting"), std::string::npos) << err_.str();
}

TEST_F(MashctlTest, PartsWithoutAnAnswerAreACheckFailureAfterWait) {
  broker_.Queue(200, Check({{"police", "answered"}, {"health", "no_answer"}}));
  EXPECT_EQ(Run({"check", "show", kId, "--wait", "5"}), kExitCheckFailed);
  // Without --wait the same check is simply shown.
  broker_.Queue(200, Check({{"police", "answered"}, {"health", "no_answer"}}));
  EXPECT_EQ(Run({"check", "show", kId}), kExitOk);
  EXPECT_NE(out_.str().find("no_answer"), std::string::npos);
}

TEST_F(MashctlTest, ShowRefusesAMalformedIdBeforeConnecting) {
  EXPECT_EQ(Run({"check", "show", "../agencies"}), kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);
}

TEST_F(MashctlTest, BrokerRepliesMapToExitCodes) {
  const json err_body = {{"error", {{"code", "not_found"}, {"message", "no such check"}}}};
  broker_.Queue(404, err_body);
  EXPECT_EQ(Run({"check", "show", kId}), kExitCheckFailed);
  EXPECT_NE(err_.str().find("404 not_found: no such check"), std::string::npos) << err_.str();

  broker_.Queue(400, {{"error", {{"code", "invalid"}, {"message", "/agencies: not registered"}}}});
  EXPECT_EQ(Run(RaiseArgs()), kExitCheckFailed);

  broker_.Queue(401, {{"error", {{"code", "unauthenticated"}, {"message", "x"}}}});
  EXPECT_EQ(Run({"agency", "list"}), kExitUsage);

  broker_.Queue(503, {{"error", {{"code", "unavailable"}, {"message", "x"}}}});
  EXPECT_EQ(Run({"agency", "list"}), kExitConnection);

  broker_.QueueError(Unavailable("cannot connect to hub.test:8443: Connection refused"));
  EXPECT_EQ(Run({"agency", "list"}), kExitConnection);
  EXPECT_NE(err_.str().find("Connection refused"), std::string::npos);

  broker_.Queue(201, {{"id", "not-an-id"}});
  EXPECT_EQ(Run(RaiseArgs()), kExitConnection);
}

TEST_F(MashctlTest, AgencyListPrintsATableOrJson) {
  const json reply = {
      {"agencies", {{{"id", "police"}, {"name", "Police"}, {"type", "police"}, {"online", true}}}}};
  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"agency", "list"}), kExitOk);
  EXPECT_NE(out_.str().find("online"), std::string::npos);
  EXPECT_EQ(broker_.requests.back().target, "/api/v1/agencies");
  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"agency", "list", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), reply);
}

TEST_F(MashctlTest, LooseTokenFileIsRefusedWithoutSendingIt) {
  ::chmod(token_path_.c_str(), 0644);
  EXPECT_EQ(Run({"agency", "list"}), kExitUsage);
  EXPECT_NE(err_.str().find("chmod 600"), std::string::npos) << err_.str();
  EXPECT_EQ(err_.str().find("tok-123"), std::string::npos);
  EXPECT_EQ(broker_.clients_made, 0);
}

TEST_F(MashctlTest, MissingConnectionSettingsAreUsageErrors) {
  for (const char* var : {"MASH_BROKER", "MASH_CA", "MASH_CRLS", "MASH_TOKEN_FILE"}) {
    SetUp();
    vars_.erase(var);
    EXPECT_EQ(Run({"agency", "list"}), kExitUsage) << var;
    EXPECT_NE(err_.str().find(var), std::string::npos) << err_.str();
  }
  SetUp();
  vars_["MASH_BROKER"] = "http://hub:80";
  EXPECT_EQ(Run({"agency", "list"}), kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);
}

TEST_F(MashctlTest, PkiTokenWritesAPrivateFileAndPrintsOnlyItsHash) {
  const auto path = dir_ / "alice.token";
  ASSERT_EQ(Run({"pki", "token", "--out", path.string()}), kExitOk) << err_.str();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto token = ReadTokenFile(path);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(out_.str(), TokenSha256(*token) + "\n");
  EXPECT_EQ(out_.str().find(*token), std::string::npos);

  EXPECT_EQ(Run({"pki", "token", "--out", path.string()}), kExitUsage);
  EXPECT_NE(err_.str().find("--force"), std::string::npos);
  EXPECT_EQ(*ReadTokenFile(path), *token);
  EXPECT_EQ(Run({"pki", "token", "--out", path.string(), "--force"}), kExitOk);
  EXPECT_NE(*ReadTokenFile(path), *token);
}

TEST_F(MashctlTest, PkiKeygenMakesFourFilesWithTheRightModes) {
  const auto keys = dir_ / "keys";
  ASSERT_EQ(Run({"pki", "keygen", "--dir", keys.string(), "--name", "police"}), kExitOk)
      << err_.str();
  auto mode = [](const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode(keys), 0700u);
  EXPECT_EQ(mode(keys / "police.sign.key"), 0600u);
  EXPECT_EQ(mode(keys / "police.enc.key"), 0600u);
  for (const char* pub : {"police.sign.pub", "police.enc.pub"}) {
    EXPECT_EQ(mode(keys / pub) & 0600, 0600u) << pub;
    EXPECT_EQ(mode(keys / pub) & 022, 0u) << pub;  // nobody else may write a public key
  }
  EXPECT_TRUE(crypto::LoadSigningKey(keys / "police.sign.key").ok());
  EXPECT_TRUE(crypto::LoadEncryptionPublicKey(keys / "police.enc.pub").ok());
  EXPECT_NE(out_.str().find("police.sign.key"), std::string::npos);

  EXPECT_EQ(Run({"pki", "keygen", "--dir", keys.string(), "--name", "police"}), kExitUsage);
  EXPECT_EQ(Run({"pki", "keygen", "--dir", keys.string(), "--name", "police", "--force"}), kExitOk);
  EXPECT_EQ(Run({"pki", "keygen", "--dir", keys.string(), "--name", "../evil"}), kExitUsage);
  EXPECT_EQ(Run({"pki", "keygen", "--dir", keys.string()}), kExitUsage);
}

TEST_F(MashctlTest, PkiSecretWritesAPrivateKeyFileOfTheRightKind) {
  const auto db = dir_ / "db.key";
  ASSERT_EQ(Run({"pki", "secret", "--kind", "database", "--out", db.string()}), kExitOk)
      << err_.str();
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key = crypto::ReadKeyFile(db, crypto::KeyKind::kDatabaseKey);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_FALSE(crypto::ReadKeyFile(db, crypto::KeyKind::kPseudonymKey).ok());

  const auto ps = dir_ / "pseudonym.key";
  ASSERT_EQ(Run({"pki", "secret", "--kind", "pseudonym", "--out", ps.string()}), kExitOk);
  EXPECT_TRUE(crypto::ReadKeyFile(ps, crypto::KeyKind::kPseudonymKey).ok());
  EXPECT_EQ(Run({"pki", "secret", "--kind", "pseudonym", "--out", ps.string()}), kExitUsage);
  EXPECT_EQ(Run({"pki", "secret", "--kind", "tls", "--out", (dir_ / "x").string()}), kExitUsage);
}

TEST_F(MashctlTest, PkiPinPrintsTheSpkiPin) {
  auto pki = testing::TestPki::Create({"police"});
  ASSERT_EQ(Run({"pki", "pin", pki->root_ca().string()}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), pki->ca_pin() + "\n");
  EXPECT_EQ(Run({"pki", "pin", (dir_ / "none.pem").string()}), kExitUsage);
}

// The real client, without a broker: configuration errors are exit 2, a refused connection is
// exit 3.
TEST(HttpsClientTest, ConfigurationAndConnectionFailures) {
  auto pki = testing::TestPki::Create({"police"});
  testing::TempDir dir;
  const auto token = dir / "token";
  std::ofstream(token) << "tok";
  ::chmod(token.c_str(), 0600);
  const auto crls = pki->crls();
  std::vector<std::string> base = {"agency",       "list",        "--ca", pki->root_ca().string(),
                                   "--token-file", token.string()};
  for (const auto& c : crls) base.insert(base.end(), {"--crl", c.string()});
  Environment env = DefaultEnvironment();
  env.getenv = [](const std::string&) { return std::nullopt; };

  // Port 1 on loopback: nothing listens there.
  std::ostringstream out, err;
  auto args = base;
  args.insert(args.end(), {"--broker", "https://127.0.0.1:1"});
  EXPECT_EQ(RunMashctl(args, out, err, env), kExitConnection) << err.str();
  EXPECT_NE(err.str().find("cannot connect"), std::string::npos) << err.str();
  EXPECT_EQ(err.str().find("tok"), std::string::npos);

  // A CA file that does not exist.
  args = {"agency",       "list",
          "--broker",     "https://127.0.0.1:1",
          "--ca",         (dir / "none.pem").string(),
          "--crl",        crls[0].string(),
          "--token-file", token.string()};
  err.str("");
  EXPECT_EQ(RunMashctl(args, out, err, env), kExitUsage) << err.str();
  EXPECT_NE(err.str().find("not found"), std::string::npos) << err.str();
}

}  // namespace
TEST_F(MashctlTest, AgencyAddWritesTheTokenPrivatelyAndPrintsPinAndCommand) {
  const auto out = dir_ / "police.enrol-token";
  const std::string token(64, 'a');
  const std::string pin = "sha256:" + std::string(64, 'b');
  broker_.Queue(201, {{"agency", "police"},
                      {"token", token},
                      {"expires_at", "2026-11-22T10:00:00.000Z"},
                      {"ca_pin", pin}});
  ASSERT_EQ(Run({"agency", "add", "--id", "police", "--name", "Police", "--type", "police", "--out",
                 out.string()}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(broker_.requests.back().method, "POST");
  EXPECT_EQ(broker_.requests.back().target, "/api/v1/agencies");
  EXPECT_EQ(broker_.requests.back().body,
            json({{"id", "police"}, {"name", "Police"}, {"type", "police"}}));
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadTokenFile(out), token);
  // The token is in the file only; the pin and the exact command are printed.
  EXPECT_EQ(out_.str().find(token), std::string::npos);
  EXPECT_NE(out_.str().find("CA pin: " + pin), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("mash-agent enrol --broker https://hub.test:8443 --token-file " +
                            out.string() + " --ca-pin " + pin),
            std::string::npos)
      << out_.str();
}

TEST_F(MashctlTest, AgencyAddRefusesAnExistingOutputFileBeforeAskingTheBroker) {
  const auto out = dir_ / "exists";
  std::ofstream(out) << "keep me\n";
  EXPECT_EQ(Run({"agency", "add", "--id", "police", "--name", "Police", "--type", "police", "--out",
                 out.string()}),
            kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "keep me");
}

TEST_F(MashctlTest, AgencyAddOfARegisteredIdIsACheckFailure) {
  broker_.Queue(409, {{"error", {{"code", "conflict"}, {"message", "already registered"}}}});
  const auto out = dir_ / "t";
  EXPECT_EQ(Run({"agency", "add", "--id", "health", "--name", "Health", "--type", "health", "--out",
                 out.string()}),
            kExitCheckFailed);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_NE(err_.str().find("409"), std::string::npos) << err_.str();
}

// ---- the check workflow: list, decide, reject; the IG alert queue ----

json ErrorBody(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

json Closed() {
  json check = Check({{"police", "answered"}});
  check["state"] = "closed";
  check["decision"] = {{"outcome", "early_help"},
                       {"rationale", "Known to the school; family agrees to support"},
                       {"by", "p.practitioner"},
                       {"at", "2026-11-22T13:00:00Z"}};
  return check;
}

constexpr char kAlertId[] = "fedcba9876543210fedcba9876543210";

json Alert() {
  return {{"id", kAlertId},
          {"kind", "override"},
          {"status", "new"},
          {"created_at", "2026-11-22T08:00:00Z"},
          {"updated_at", "2026-11-22T08:00:00Z"},
          {"person", "p.one"},
          {"role", "practitioner"},
          {"team", "north"},
          {"summary", "Check raised without consent: Risk of significant harm to a child"},
          {"detail", json::object()},
          {"check", kId},
          {"override",
           {{"raised_at", "2026-11-22T08:00:00Z"},
            {"raised_by", "p.one"},
            {"team", "north"},
            {"state", "dispatched"},
            {"purpose", "child_protection_s47"},
            {"urgency", "red"},
            {"consent", "not_sought"},
            {"ground", "child_significant_harm"},
            {"ground_name", "Risk of significant harm to a child"},
            {"justification", "Telling the parents would put the child at risk"},
            {"agencies", 2}}},
          {"history", json::array()}};
}

TEST_F(MashctlTest, HelpDescribesTheWorkflowCommands) {
  const std::vector<std::vector<std::string>> subs = {
      {"check", "list"},  {"check", "decide"},       {"check", "reject"},     {"audit", "alerts"},
      {"audit", "alert"}, {"audit", "alert-status"}, {"audit", "acknowledge"}};
  for (auto args : subs) {
    args.push_back("--help");
    EXPECT_EQ(Run(args), kExitOk) << args[1];
    EXPECT_NE(out_.str().find("--token-file"), std::string::npos) << args[1];
  }
  EXPECT_EQ(Run({"check", "--help"}), kExitOk);
  for (const char* word : {"list", "decide", "reject", "authorise"}) {
    EXPECT_NE(out_.str().find(word), std::string::npos) << word;
  }
  EXPECT_EQ(Run({"audit", "--help"}), kExitOk);
  for (const char* word : {"alerts", "alert-status", "acknowledge", "verify", "export"}) {
    EXPECT_NE(out_.str().find(word), std::string::npos) << word;
  }
}

TEST_F(MashctlTest, CheckListAsksForTheTeamsChecksAndPrintsATable) {
  const json reply = {{"checks",
                       {{{"id", kId},
                         {"state", "partially_answered"},
                         {"urgency", "red"},
                         {"due_at", "2026-11-22T12:00:00Z"},
                         {"overdue", true},
                         {"breaches", 1},
                         {"purpose", "child_protection_s47"},
                         {"raised_by", "p.o\x1bne"},
                         {"override", false}}}}};
  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"check", "list"}), kExitOk) << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].method, "GET");
  EXPECT_EQ(broker_.requests[0].target, "/api/v1/checks");
  const std::string text = out_.str();
  for (const char* expected : {"ID", "OUTCOME", kId, "partially_answered", "red",
                               "2026-11-22T12:00:00Z OVERDUE", "p.o?ne"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(text.find('\x1b'), std::string::npos);

  for (const char* state : {"open", "overdue", "awaiting_authorisation", "closed"}) {
    broker_.Queue(200, {{"checks", json::array()}});
    ASSERT_EQ(Run({"check", "list", "--state", state}), kExitOk) << state << err_.str();
    EXPECT_EQ(broker_.requests.back().target, std::string("/api/v1/checks?state=") + state);
    EXPECT_EQ(out_.str(), "no checks\n");
  }

  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"check", "list", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), reply);
}

TEST_F(MashctlTest, CheckListRefusesAnUnknownStateWithoutARequest) {
  EXPECT_EQ(Run({"check", "list", "--state", "decided"}), kExitUsage);
  EXPECT_EQ(Run({"check", "list", "--state", "open&all=true"}), kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);
  EXPECT_TRUE(broker_.requests.empty());
}

TEST_F(MashctlTest, CheckListMapsBrokerRepliesToExitCodes) {
  broker_.Queue(403, ErrorBody("forbidden", "no team"));
  EXPECT_EQ(Run({"check", "list"}), kExitCheckFailed);
  EXPECT_NE(err_.str().find("check list: broker answered 403 forbidden"), std::string::npos)
      << err_.str();
  broker_.Queue(500, ErrorBody("internal", "x"));
  EXPECT_EQ(Run({"check", "list"}), kExitConnection);
  broker_.QueueError(Unavailable("cannot connect"));
  EXPECT_EQ(Run({"check", "list"}), kExitConnection);
}

TEST_F(MashctlTest, DecidePostsTheOutcomeAndRationaleAndPrintsTheClosedCheck) {
  broker_.Queue(200, Closed());
  ASSERT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale",
                 "Known to the school; family agrees to support"}),
            kExitOk)
      << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  const auto& req = broker_.requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, std::string("/api/v1/checks/") + kId + "/decision");
  EXPECT_EQ(req.body, json({{"outcome", "early_help"},
                            {"rationale", "Known to the school; family agrees to support"}}));
  EXPECT_NE(out_.str().find("state    closed"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("decision early_help by p.practitioner"), std::string::npos);
  EXPECT_EQ(err_.str(), "");

  broker_.Queue(200, Closed());
  ASSERT_EQ(Run({"check", "decide", kId, "--outcome", "no_further_action", "--rationale",
                 "No concerns held by any agency", "--json"}),
            kExitOk);
  EXPECT_EQ(json::parse(out_.str()), Closed());
}

TEST_F(MashctlTest, DecideReadsTheRationaleFromAFile) {
  const auto file = dir_ / "rationale.txt";
  std::ofstream(file) << "Strategy discussion agreed:\nrisk of significant harm\n";
  broker_.Queue(200, Closed());
  ASSERT_EQ(Run({"check", "decide", kId, "--outcome", "strategy_discussion", "--rationale-file",
                 file.string()}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(broker_.requests.back().body["rationale"],
            "Strategy discussion agreed:\nrisk of significant harm");

  // Too long in the file: refused before anything is sent.
  std::ofstream(dir_ / "long.txt") << std::string(kMaxRationale + 1, 'x');
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale-file",
                 (dir_ / "long.txt").string()}),
            kExitUsage);
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale-file",
                 (dir_ / "missing.txt").string()}),
            kExitUsage);
  // Both spellings at once are a usage error.
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale",
                 "long enough rationale", "--rationale-file", file.string()}),
            kExitUsage);
  EXPECT_EQ(broker_.requests.size(), 1u);
}

TEST_F(MashctlTest, DecideRefusesBadInputWithoutARequest) {
  const std::string good = "Known to services; no current risk";
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "decided", "--rationale", good}), kExitUsage);
  EXPECT_NE(err_.str().find("--outcome"), std::string::npos) << err_.str();
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale", "too short"}),
            kExitUsage);
  EXPECT_NE(err_.str().find("--rationale"), std::string::npos) << err_.str();
  // The refusal does not echo the text.
  EXPECT_EQ(err_.str().find("too short"), std::string::npos) << err_.str();
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help", "--rationale",
                 std::string(kMaxRationale + 1, 'x')}),
            kExitUsage);
  EXPECT_EQ(Run({"check", "decide", kId, "--outcome", "early_help"}), kExitUsage);
  EXPECT_EQ(Run({"check", "decide", kId, "--rationale", good}), kExitUsage);
  EXPECT_EQ(
      Run({"check", "decide", "../../alerts", "--outcome", "early_help", "--rationale", good}),
      kExitUsage);
  EXPECT_EQ(Run({"check", "decide", "0123456789ABCDEF0123456789ABCDEF", "--outcome", "early_help",
                 "--rationale", good}),
            kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);
  EXPECT_TRUE(broker_.requests.empty());
}

TEST_F(MashctlTest, DecideMapsBrokerRepliesToExitCodes) {
  const std::vector<std::string> args = {"check",
                                         "decide",
                                         kId,
                                         "--outcome",
                                         "early_help",
                                         "--rationale",
                                         "Known to services; no current risk"};
  broker_.Queue(409, ErrorBody("conflict",
                               "a decision cannot be recorded on a check that is "
                               "awaiting_authorisation"));
  EXPECT_EQ(Run(args), kExitCheckFailed);
  EXPECT_NE(err_.str().find("check decide: broker answered 409 conflict"), std::string::npos)
      << err_.str();
  EXPECT_EQ(out_.str(), "");
  broker_.Queue(404, ErrorBody("not_found",
                               "no such\x1b[2J check\xc2\x9b"
                               "2J"));
  EXPECT_EQ(Run(args), kExitCheckFailed);
  EXPECT_NE(err_.str().find("404 not_found: no such?[2J check?2J"), std::string::npos)
      << err_.str();
  broker_.Queue(503, ErrorBody("unavailable", "cannot record the decision now"));
  EXPECT_EQ(Run(args), kExitConnection);
  broker_.QueueError(Unavailable("deadline"));
  EXPECT_EQ(Run(args), kExitConnection);
}

TEST_F(MashctlTest, RejectPostsARejectionOfTheOverride) {
  json rejected = Check({{"police", "rejected"}});
  rejected["state"] = "rejected";
  rejected["authorisation"] = {{"decision", "rejected"},
                               {"by", "m.manager"},
                               {"at", "2026-11-22T09:00:00Z"},
                               {"reason", "Seek consent first"}};
  broker_.Queue(200, rejected);
  ASSERT_EQ(Run({"check", "reject", kId, "--reason", "Seek consent from the mother first"}),
            kExitOk)
      << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].method, "POST");
  EXPECT_EQ(broker_.requests[0].target, std::string("/api/v1/checks/") + kId + "/authorisation");
  EXPECT_EQ(broker_.requests[0].body,
            json({{"decision", "reject"}, {"reason", "Seek consent from the mother first"}}));
  EXPECT_NE(out_.str().find("override rejected by m.manager"), std::string::npos) << out_.str();

  // The same request as `check authorise --decision reject`.
  broker_.Queue(200, rejected);
  ASSERT_EQ(Run({"check", "authorise", kId, "--decision", "reject", "--reason",
                 "Seek consent from the mother first"}),
            kExitOk);
  EXPECT_EQ(broker_.requests[1].target, broker_.requests[0].target);
  EXPECT_EQ(broker_.requests[1].body, broker_.requests[0].body);

  broker_.Queue(200, rejected);
  ASSERT_EQ(Run({"check", "reject", kId, "--reason", "Seek consent first", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), rejected);
}

TEST_F(MashctlTest, RejectRefusesBadInputAndMapsBrokerReplies) {
  EXPECT_EQ(Run({"check", "reject", kId, "--reason", "no"}), kExitUsage);
  EXPECT_EQ(Run({"check", "reject", kId}), kExitUsage);
  EXPECT_EQ(Run({"check", "reject", "nope", "--reason", "Seek consent first"}), kExitUsage);
  // reject takes no --decision: it cannot be turned into an authorisation.
  EXPECT_EQ(
      Run({"check", "reject", kId, "--decision", "authorise", "--reason", "Seek consent first"}),
      kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);

  broker_.Queue(409, ErrorBody("conflict", "the check does not await authorisation"));
  EXPECT_EQ(Run({"check", "reject", kId, "--reason", "Seek consent first"}), kExitCheckFailed);
  EXPECT_NE(err_.str().find("check reject: broker answered 409"), std::string::npos) << err_.str();
  broker_.Queue(502, ErrorBody("bad_gateway", "x"));
  EXPECT_EQ(Run({"check", "reject", kId, "--reason", "Seek consent first"}), kExitConnection);
}

TEST_F(MashctlTest, AuditAlertsListsTheQueue) {
  const json reply = {{"alerts", {Alert()}}};
  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"audit", "alerts"}), kExitOk) << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].method, "GET");
  EXPECT_EQ(broker_.requests[0].target, "/api/v1/alerts");
  for (const char* expected :
       {"alert fedcba9876543210fedcba9876543210 override new",
        "about p.one (practitioner, team north)", "check       0123456789abcdef0123456789abcdef",
        "child_significant_harm (Risk of significant harm to a child)",
        "Telling the parents would put the child at risk",
        "mashctl audit alert-status fedcba9876543210fedcba9876543210 --status"}) {
    EXPECT_NE(out_.str().find(expected), std::string::npos) << expected << "\n" << out_.str();
  }
  broker_.Queue(200, {{"alerts", json::array()}});
  ASSERT_EQ(Run({"audit", "alerts", "--all"}), kExitOk);
  EXPECT_EQ(broker_.requests.back().target, "/api/v1/alerts?all=true");
  EXPECT_EQ(out_.str(), "no alerts\n");
  broker_.Queue(200, {{"alerts", json::array()}});
  ASSERT_EQ(Run({"audit", "alerts", "--status", "new", "--status", "escalated", "--kind",
                 "unusual_volume"}),
            kExitOk);
  EXPECT_EQ(broker_.requests.back().target,
            "/api/v1/alerts?status=new&status=escalated&kind=unusual_volume");
  broker_.Queue(200, reply);
  ASSERT_EQ(Run({"audit", "alerts", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), reply);

  const size_t asked = broker_.requests.size();
  EXPECT_EQ(Run({"audit", "alerts", "--status", "open"}), kExitUsage);
  EXPECT_EQ(Run({"audit", "alerts", "--kind", "holiday"}), kExitUsage);
  EXPECT_EQ(Run({"audit", "alerts", "--all", "--status", "new"}), kExitUsage);
  EXPECT_EQ(broker_.requests.size(), asked);

  broker_.Queue(403, ErrorBody("forbidden", "the alert queue is for IG officers and DPOs"));
  EXPECT_EQ(Run({"audit", "alerts"}), kExitCheckFailed);
  EXPECT_NE(err_.str().find("audit alerts: broker answered 403"), std::string::npos) << err_.str();
  broker_.Queue(503, ErrorBody("unavailable", "x"));
  EXPECT_EQ(Run({"audit", "alerts"}), kExitConnection);
}

TEST_F(MashctlTest, AuditAlertShowsOneWithItsHistory) {
  json reviewed = Alert();
  reviewed["status"] = "closed";
  reviewed["history"] = {{{"at", "2026-11-22T09:00:00Z"},
                          {"by", "i.officer"},
                          {"role", "ig_officer"},
                          {"from", "new"},
                          {"to", "under_review"}},
                         {{"at", "2026-11-22T10:00:00Z"},
                          {"by", "i.officer"},
                          {"role", "ig_officer"},
                          {"from", "under_review"},
                          {"to", "closed"},
                          {"note", "Reviewed with manager"}}};
  broker_.Queue(200, reviewed);
  ASSERT_EQ(Run({"audit", "alert", kAlertId}), kExitOk) << err_.str();
  EXPECT_EQ(broker_.requests[0].method, "GET");
  EXPECT_EQ(broker_.requests[0].target, std::string("/api/v1/alerts/") + kAlertId);
  EXPECT_NE(out_.str().find("under_review 2026-11-22T09:00:00Z by i.officer\n"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("closed 2026-11-22T10:00:00Z by i.officer: Reviewed with manager"),
            std::string::npos)
      << out_.str();
  EXPECT_EQ(out_.str().find("to move it on"), std::string::npos) << "closed is final";
  EXPECT_EQ(Run({"audit", "alert", "../checks"}), kExitUsage);
  broker_.Queue(404, ErrorBody("not_found", "no such alert"));
  EXPECT_EQ(Run({"audit", "alert", kAlertId}), kExitCheckFailed);
}

TEST_F(MashctlTest, AuditAlertStatusPostsTheChange) {
  json reviewed = Alert();
  reviewed["status"] = "under_review";
  broker_.Queue(200, reviewed);
  ASSERT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "under_review"}), kExitOk)
      << err_.str();
  EXPECT_EQ(broker_.requests[0].method, "POST");
  EXPECT_EQ(broker_.requests[0].target, std::string("/api/v1/alerts/") + kAlertId + "/status");
  EXPECT_EQ(broker_.requests[0].body, json({{"status", "under_review"}}));
  broker_.Queue(200, reviewed);
  ASSERT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "escalated", "--note",
                 "DPO to review with the team", "--json"}),
            kExitOk);
  EXPECT_EQ(broker_.requests.back().body,
            json({{"status", "escalated"}, {"note", "DPO to review with the team"}}));
  EXPECT_EQ(json::parse(out_.str()), reviewed);

  const size_t asked = broker_.requests.size();
  EXPECT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "closed"}), kExitUsage);
  EXPECT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "closed", "--note", "short"}),
            kExitUsage);
  EXPECT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "new", "--note",
                 "Back to the start please"}),
            kExitUsage);
  EXPECT_EQ(Run({"audit", "alert-status", kAlertId}), kExitUsage);
  EXPECT_EQ(broker_.requests.size(), asked);
  broker_.Queue(409, ErrorBody("conflict", "an alert that is closed cannot be moved to closed"));
  EXPECT_EQ(Run({"audit", "alert-status", kAlertId, "--status", "closed", "--note",
                 "Reviewed with manager"}),
            kExitCheckFailed);
  EXPECT_NE(err_.str().find("audit alert-status: broker answered 409"), std::string::npos)
      << err_.str();
}

TEST_F(MashctlTest, AuditAcknowledgePostsTheNote) {
  json acknowledged = Alert();
  acknowledged["status"] = "closed";
  acknowledged["history"] = {{{"at", "2026-11-22T10:00:00Z"},
                              {"by", "i.officer"},
                              {"role", "ig_officer"},
                              {"from", "new"},
                              {"to", "closed"},
                              {"note", "Reviewed with manager"}}};
  broker_.Queue(200, acknowledged);
  ASSERT_EQ(Run({"audit", "acknowledge", kId, "--note", "Reviewed with manager"}), kExitOk)
      << err_.str();
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].method, "POST");
  EXPECT_EQ(broker_.requests[0].target, std::string("/api/v1/alerts/") + kId + "/acknowledgement");
  EXPECT_EQ(broker_.requests[0].body, json({{"note", "Reviewed with manager"}}));
  EXPECT_NE(out_.str().find("closed 2026-11-22T10:00:00Z by i.officer: Reviewed with manager"),
            std::string::npos)
      << out_.str();
  broker_.Queue(200, acknowledged);
  ASSERT_EQ(Run({"audit", "acknowledge", kId, "--note", "Seen and fine.", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(out_.str()), acknowledged);
}

TEST_F(MashctlTest, AuditAcknowledgeRefusesBadInputAndMapsBrokerReplies) {
  EXPECT_EQ(Run({"audit", "acknowledge", kId, "--note", "ok"}), kExitUsage);
  EXPECT_EQ(Run({"audit", "acknowledge", kId, "--note", std::string(kMaxRationale, 'x')}),
            kExitUsage);
  EXPECT_EQ(Run({"audit", "acknowledge", kId}), kExitUsage);
  EXPECT_EQ(Run({"audit", "acknowledge", "../checks", "--note", "Reviewed it"}), kExitUsage);
  EXPECT_EQ(broker_.clients_made, 0);

  broker_.Queue(409, ErrorBody("conflict", "an alert that is closed cannot be moved to closed"));
  EXPECT_EQ(Run({"audit", "acknowledge", kId, "--note", "Reviewed it"}), kExitCheckFailed);
  EXPECT_NE(err_.str().find("cannot be moved"), std::string::npos) << err_.str();
  broker_.Queue(404, ErrorBody("not_found", "no such alert"));
  EXPECT_EQ(Run({"audit", "acknowledge", kId, "--note", "Reviewed it"}), kExitCheckFailed);
  broker_.Queue(500, ErrorBody("internal", "x"));
  EXPECT_EQ(Run({"audit", "acknowledge", kId, "--note", "Reviewed it"}), kExitConnection);
}

TEST_F(MashctlTest, WaitStopsAtAClosedCheck) {
  // A check closed by its decision while agencies were still asked: --wait does not poll on.
  json closed = Closed();
  closed["agencies"] = {Part("police", "sent")};
  broker_.Queue(200, Check({{"police", "sent"}}));
  broker_.Queue(200, closed);
  EXPECT_EQ(Run({"check", "show", kId, "--wait", "30"}), kExitOk) << err_.str();
  EXPECT_EQ(broker_.requests.size(), 2u);
  EXPECT_NE(out_.str().find("decision early_help"), std::string::npos) << out_.str();
}

}  // namespace mash::cli
