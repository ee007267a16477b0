// Enrolment and renewal end to end: a real broker with its online issuing CA, the real
// `mash-agent enrol` and renewal code, and the agent that then connects with what it got.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "harness.h"
#include "mash/agent/enrol.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/common/private_file.h"
#include "mash/crypto/certificates.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAdminToken =
    "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
constexpr const char* kPractitionerToken =
    "4f1c0e7d2b9a8c6e5d4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";

broker::RaiseRequest PoliceCheck() { return ConsentedCheck({"police"}, "red", 1); }

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 07777;
  return st.st_mode & 0777;
}

class EnrolmentTest : public ::testing::Test {
 protected:
  // `police` is not in broker.toml here: it is the agency that enrols.
  void SetUp() override { StartHub(); }

  void StartHub(std::chrono::seconds token_lifetime = 3600s) {
    hub_ = std::make_unique<TestHub>([token_lifetime](broker::BrokerConfig& c) {
      std::erase_if(c.agencies, [](const broker::AgencyEntry& a) { return a.id == "police"; });
      const auto pki_dir = c.tls.ca_file.parent_path();
      broker::EnrolmentSettings e;
      e.issuing_ca_cert = pki_dir / "issuing-ca.pem";
      e.issuing_ca_key = pki_dir / "issuing-ca.key";
      e.certificate_lifetime = std::chrono::hours(24 * 30);
      e.renew_window = std::chrono::hours(24 * 10);
      e.token_lifetime = token_lifetime;
      c.enrolment = e;
      c.api_tokens.push_back({"ada.admin", "admin",
                              common::HexEncode(crypto::Sha256(common::AsBytes(kAdminToken))),
                              "mash"});
      c.api_tokens.push_back(
          {"pat.practitioner", "practitioner",
           common::HexEncode(crypto::Sha256(common::AsBytes(kPractitionerToken))), "mash"});
    });
    api_port_ = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
  }

  HttpReply Api(const std::string& method, const std::string& target, const json& body,
                const std::string& token = "") {
    return HttpsCall(hub_->pki(), api_port_, method, target, body.is_null() ? "" : body.dump(),
                     token);
  }

  // Registers `id` for enrolment as the admin and writes its token to a 0600 file.
  std::filesystem::path AddAgency(const std::string& id, const std::string& type) {
    const HttpReply r =
        Api("POST", "/api/v1/agencies", {{"id", id}, {"name", id}, {"type", type}}, kAdminToken);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    EXPECT_EQ(r.body["ca_pin"], hub_->pki().ca_pin());
    const std::string token = r.body.value("token", "");
    EXPECT_EQ(token.size(), 64u);  // 256 bits, hex
    const auto file = hub_->dir() / (id + "-" + std::to_string(++tokens_) + ".token");
    EXPECT_TRUE(common::WritePrivateFile(file, token + "\n", false).ok());
    return file;
  }

  agent::EnrolOptions Options(const std::filesystem::path& token_file, const std::string& dir) {
    agent::EnrolOptions o;
    o.broker = "https://localhost:" + std::to_string(api_port_);
    o.token_file = token_file;
    o.ca_pin = hub_->pki().ca_pin();
    o.dir = hub_->dir() / dir;
    o.timeout = 5s;
    return o;
  }

  // The written agent.toml with the records and policy an operator would add.
  agent::AgentConfig CompleteConfig(const std::filesystem::path& toml, const std::string& agency) {
    {
      std::ofstream out(toml, std::ios::app);
      out << "\n[records]\nfixture = \"" << Fixture(agency).string() << "\"\n"
          << "[policy]\nfile = \""
          << (std::filesystem::path(MASH_SOURCE_DIR) / "examples" / "policies" /
              (agency + "-disclosure.toml"))
                 .string()
          << "\"\n";
    }
    auto c = agent::LoadAgentConfig(toml);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    c->backoff_initial = 50ms;
    c->backoff_max = 400ms;
    return *c;
  }

  std::unique_ptr<TestHub> hub_;
  uint16_t api_port_ = 0;
  common::SystemClock clock_;
  int tokens_ = 0;
};

TEST_F(EnrolmentTest, EnrolledAgentConnectsAndAnswers) {
  const auto token = AddAgency("police", "police");
  auto opts = Options(token, "police-agent");
  opts.agency_id = "police";
  auto enrolled = agent::Enrol(opts, clock_);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  EXPECT_EQ(enrolled->agency, "police");
  EXPECT_FALSE(std::filesystem::exists(token)) << "the spent token file must be removed";
  const auto dir = std::filesystem::absolute(opts.dir);
  for (const char* secret :
       {"agency-tls.key", "agency.sign.key", "agency.enc.key", "agent.db.key"}) {
    EXPECT_EQ(Mode(dir / secret), 0600u) << secret;
  }
  EXPECT_EQ(Mode(dir) & 077, 0u);
  EXPECT_EQ(enrolled->config, dir / "agent.toml");

  // The certificate names the agency and nothing else, and lasts the configured 30 days.
  std::ifstream chain_in(dir / "agency.pem");
  const std::string chain((std::istreambuf_iterator<char>(chain_in)), {});
  auto validity = crypto::CertificateValidity(chain);
  ASSERT_TRUE(validity.ok());
  EXPECT_LE(validity->not_after - clock_.NowUnix(), 30 * 24 * 3600);

  const agent::AgentConfig config = CompleteConfig(enrolled->config, "police");
  EXPECT_EQ(config.agency_id, "police");
  EXPECT_EQ(config.tls.ca_pin, hub_->pki().ca_pin());
  hub_->StartAgent("police", Fixture("police"),
                   [&](agent::AgentConfig& c, crypto::TlsOptions&) { c = config; });
  ASSERT_TRUE(hub_->WaitOnline("police", 10s));
  auto id = hub_->Raise(PoliceCheck());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  json shown;
  for (int i = 0; i < 500; ++i) {
    shown = OnIo(hub_->io(), [&] { return *hub_->broker().checks().Peek(*id); });
    if (shown["state"] != "dispatched") break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(shown["state"], "answered") << shown.dump(2);

  // The enrolled agency survives a broker restart (it is in the database), and re-adding it is
  // refused.
  hub_->StopAgents();
  hub_->StopBroker();
  hub_->StartBroker();
  EXPECT_EQ(Api("POST", "/api/v1/agencies", {{"id", "police"}, {"name", "x"}, {"type", "police"}},
                kAdminToken)
                .status,
            409);
  const HttpReply list = Api("GET", "/api/v1/agencies", nullptr, kAdminToken);
  EXPECT_NE(list.body.dump().find("\"police\""), std::string::npos) << list.body.dump();
}

TEST_F(EnrolmentTest, ATokenWorksOnce) {
  const auto token = AddAgency("police", "police");
  std::ifstream in(token);
  std::string text;
  std::getline(in, text);
  ASSERT_TRUE(agent::Enrol(Options(token, "first"), clock_).ok());
  // The same token again, from a copy of the file.
  const auto copy = hub_->dir() / "copy.token";
  ASSERT_TRUE(common::WritePrivateFile(copy, text + "\n", false).ok());
  auto again = agent::Enrol(Options(copy, "second"), clock_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnauthenticated) << again.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(copy)) << "a failed enrolment keeps the token file";
  // Keys made for the failed attempt are removed, so it can simply be run again.
  EXPECT_FALSE(std::filesystem::exists(hub_->dir() / "second" / "agency-tls.key"));
  // An unknown token is refused the same way.
  ASSERT_TRUE(common::WritePrivateFile(copy, std::string(64, 'f'), true).ok());
  auto unknown = agent::Enrol(Options(copy, "third"), clock_);
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(EnrolmentTest, TwoConcurrentEnrolmentsWithOneTokenYieldOneAgency) {
  const auto token = AddAgency("police", "police");
  std::ifstream in(token);
  std::string text;
  std::getline(in, text);
  const auto copy = hub_->dir() / "copy.token";
  ASSERT_TRUE(common::WritePrivateFile(copy, text + "\n", false).ok());
  Result<agent::EnrolResult> a = Unavailable("");
  Result<agent::EnrolResult> b = Unavailable("");
  std::thread ta([&] { a = agent::Enrol(Options(token, "a"), clock_); });
  std::thread tb([&] { b = agent::Enrol(Options(copy, "b"), clock_); });
  ta.join();
  tb.join();
  EXPECT_NE(a.ok(), b.ok()) << a.status().ToString() << " / " << b.status().ToString();
  EXPECT_EQ((a.ok() ? b : a).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(EnrolmentTest, AnExpiredTokenIsRefused) {
  hub_.reset();
  StartHub(1s);
  const auto token = AddAgency("police", "police");
  std::this_thread::sleep_for(2100ms);
  auto r = agent::Enrol(Options(token, "late"), clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(std::filesystem::exists(token));
}

TEST_F(EnrolmentTest, AWrongCaPinStopsBeforeTheTokenIsSent) {
  const auto token = AddAgency("police", "police");
  auto opts = Options(token, "pinned");
  opts.ca_pin = "sha256:" + std::string(64, '0');
  auto r = agent::Enrol(opts, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(token));
  EXPECT_FALSE(std::filesystem::exists(hub_->dir() / "pinned" / "agency-tls.key"));
  // The pin of another CA (a rogue root with the same names) is refused too.
  ASSERT_TRUE(hub_->pki().Rogue("rogue-broker"));
  auto rogue_pin = crypto::SpkiPinOfPemFile(hub_->pki().rogue_ca("rogue-broker"));
  ASSERT_TRUE(rogue_pin.ok());
  opts.ca_pin = *rogue_pin;
  EXPECT_EQ(agent::Enrol(opts, clock_).status().code(), StatusCode::kPermissionDenied);
  // The token was never sent: it still works with the right pin.
  auto good = agent::Enrol(Options(token, "pinned"), clock_);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
}

TEST_F(EnrolmentTest, AForgedRequestIsRefusedWithoutSpendingTheToken) {
  const auto token_file = AddAgency("police", "police");
  std::ifstream in(token_file);
  std::string token;
  std::getline(in, token);
  const auto sign = crypto::SigningKey::Generate();
  const auto enc = crypto::EncryptionKey::Generate();
  auto made = crypto::MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  json body = {{"token", token},
               {"sign_public_key", common::Base64Encode(sign.Public().bytes)},
               {"enc_public_key", common::Base64Encode(enc.Public().bytes)}};
  // A request whose self-signature is broken: refused, and the token is not spent.
  std::string forged = made->request_pem;
  const size_t sig = forged.rfind("-----END") - 10;
  forged[sig] = forged[sig] == 'A' ? 'B' : 'A';
  body["csr"] = forged;
  EXPECT_EQ(Api("POST", "/api/v1/enrol", body).status, 400);
  body["csr"] = made->request_pem;
  const HttpReply ok = Api("POST", "/api/v1/enrol", body);
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["agency"]["id"], "police");
  EXPECT_EQ(ok.body["hub_id"], "hub");
  EXPECT_EQ(ok.body["broker_sign_public_key"].get<std::string>().size(), 44u);
  EXPECT_EQ(ok.body["crls"].size(), 2u);
  EXPECT_NE(ok.body["agent_url"].get<std::string>().find("wss://localhost:"), std::string::npos);
  // The second use of the same token, even with a good request, gets the generic refusal.
  const HttpReply again = Api("POST", "/api/v1/enrol", body);
  EXPECT_EQ(again.status, 401);
  EXPECT_EQ(again.body["error"]["message"], "enrolment refused");
}

TEST_F(EnrolmentTest, RenewalGivesANewCertificateTheHubAccepts) {
  const auto token = AddAgency("police", "police");
  auto enrolled = agent::Enrol(Options(token, "renewing"), clock_);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  const agent::AgentConfig config = CompleteConfig(enrolled->config, "police");
  std::ifstream before_in(config.tls.cert_chain_file);
  const std::string before((std::istreambuf_iterator<char>(before_in)), {});

  // Not due yet: 30 days left, the window is 10.
  auto not_due = agent::RenewCertificate(config, clock_, /*force=*/false);
  ASSERT_TRUE(not_due.ok()) << not_due.status().ToString();
  EXPECT_FALSE(not_due->renewed);
  // 21 days later the window has begun and the agent asks; this broker's clock is still today,
  // so it refuses the (future) timestamp: the old certificate stays.
  common::FakeClock later(clock_.Now() + std::chrono::hours(24 * 21));
  auto early = agent::RenewCertificate(config, later, /*force=*/false);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kUnauthenticated) << early.status().ToString();
  std::ifstream kept_in(config.tls.cert_chain_file);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(kept_in)), {}), before);
  auto renewed = agent::RenewCertificate(config, clock_, /*force=*/true);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(renewed->renewed);
  std::ifstream after_in(config.tls.cert_chain_file);
  const std::string after((std::istreambuf_iterator<char>(after_in)), {});
  EXPECT_NE(before, after);
  EXPECT_EQ(Mode(config.tls.key_file), 0600u);
  EXPECT_FALSE(std::filesystem::exists(config.tls.key_file.string() + ".new"));

  hub_->StartAgent("police", Fixture("police"),
                   [&](agent::AgentConfig& c, crypto::TlsOptions&) { c = config; });
  EXPECT_TRUE(hub_->WaitOnline("police", 10s));
}

TEST_F(EnrolmentTest, TheRunningAgentsRenewerRenewsWhenDueAndHandsOverTheNewCertificate) {
  const auto token = AddAgency("police", "police");
  auto enrolled = agent::Enrol(Options(token, "auto"), clock_);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  agent::AgentConfig config = CompleteConfig(enrolled->config, "police");
  std::ifstream before_in(config.tls.cert_chain_file);
  const std::string before((std::istreambuf_iterator<char>(before_in)), {});

  // Not due: the renewer checks at start, renews nothing and calls nobody.
  {
    boost::asio::io_context io;
    int calls = 0;
    auto renewer =
        std::make_shared<agent::CertificateRenewer>(io, config, clock_, [&] { ++calls; });
    renewer->Start();
    io.run_for(1s);
    renewer->Stop();
    io.run();
    EXPECT_EQ(calls, 0);
  }
  // A window longer than what is left (30 days): due at once.
  config.renew_window = std::chrono::hours(24 * 31);
  boost::asio::io_context io;
  int calls = 0;
  std::shared_ptr<agent::CertificateRenewer> renewer;
  renewer = std::make_shared<agent::CertificateRenewer>(io, config, clock_, [&] {
    ++calls;
    // What mash-agent run does: a context from the renewed files for the next connection.
    EXPECT_TRUE(crypto::MakeTlsContext(config.tls).ok());
    renewer->Stop();
  });
  renewer->Start();
  io.run_for(10s);
  EXPECT_EQ(calls, 1);
  std::ifstream after_in(config.tls.cert_chain_file);
  EXPECT_NE(std::string((std::istreambuf_iterator<char>(after_in)), {}), before);
  // An agent without [enrolment] never asks.
  config.enrolment_url.clear();
  boost::asio::io_context idle;
  int idle_calls = 0;
  auto off =
      std::make_shared<agent::CertificateRenewer>(idle, config, clock_, [&] { ++idle_calls; });
  off->Start();
  idle.run_for(200ms);
  EXPECT_EQ(idle_calls, 0);
}

TEST_F(EnrolmentTest, RenewalWithAWrongSignatureOrAReplayIsRefused) {
  const auto token = AddAgency("police", "police");
  auto enrolled = agent::Enrol(Options(token, "renew-bad"), clock_);
  ASSERT_TRUE(enrolled.ok());
  const agent::AgentConfig config = CompleteConfig(enrolled->config, "police");
  auto made = crypto::MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  const int64_t now = clock_.NowUnix() + 1;
  const std::string message = crypto::RenewalMessage("police", now, made->request_pem);
  const auto impostor = crypto::SigningKey::Generate();
  json body = {{"agency", "police"},
               {"csr", made->request_pem},
               {"timestamp", now},
               {"signature", common::Base64Encode(impostor.Sign(common::AsBytes(message)))}};
  HttpReply r = Api("POST", "/api/v1/renew", body);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["error"]["message"], "renewal refused");
  // Signed by the registered key over another request: refused.
  auto key = crypto::LoadSigningKey(config.sign_key);
  ASSERT_TRUE(key.ok());
  body["signature"] = common::Base64Encode(
      key->Sign(common::AsBytes(crypto::RenewalMessage("police", now, "other"))));
  EXPECT_EQ(Api("POST", "/api/v1/renew", body).status, 401);
  // A stale timestamp: refused.
  const int64_t stale = clock_.NowUnix() - 3600;
  body["timestamp"] = stale;
  body["signature"] = common::Base64Encode(
      key->Sign(common::AsBytes(crypto::RenewalMessage("police", stale, made->request_pem))));
  EXPECT_EQ(Api("POST", "/api/v1/renew", body).status, 401);
  // The genuine request works once; the same request again is a replay.
  body["timestamp"] = now;
  body["signature"] = common::Base64Encode(key->Sign(common::AsBytes(message)));
  EXPECT_EQ(Api("POST", "/api/v1/renew", body).status, 200);
  EXPECT_EQ(Api("POST", "/api/v1/renew", body).status, 401);
  // An agency from broker.toml cannot renew here.
  EXPECT_EQ(Api("POST", "/api/v1/renew",
                {{"agency", "health"},
                 {"csr", made->request_pem},
                 {"timestamp", now},
                 {"signature", body["signature"]}})
                .status,
            401);
}

TEST_F(EnrolmentTest, OnlyAdminsAddAgenciesAndRegisteredIdsAreRefused) {
  EXPECT_EQ(Api("POST", "/api/v1/agencies", {{"id", "police"}, {"name", "P"}, {"type", "police"}},
                kPractitionerToken)
                .status,
            403);
  EXPECT_EQ(Api("POST", "/api/v1/agencies", {{"id", "health"}, {"name", "H"}, {"type", "health"}},
                kAdminToken)
                .status,
            409);
  EXPECT_EQ(Api("POST", "/api/v1/agencies", {{"id", "Police!"}, {"name", "P"}, {"type", "police"}},
                kAdminToken)
                .status,
            400);
  // A second token for the same id replaces the first.
  const auto first = AddAgency("police", "police");
  const auto second = AddAgency("police", "police");
  EXPECT_EQ(agent::Enrol(Options(first, "one"), clock_).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_TRUE(agent::Enrol(Options(second, "two"), clock_).ok());
}

TEST_F(EnrolmentTest, AnIdBothEnrolledAndInBrokerTomlStopsTheBroker) {
  const auto token = AddAgency("police", "police");
  ASSERT_TRUE(agent::Enrol(Options(token, "dup"), clock_).ok());
  hub_->StopBroker();
  const auto keys = hub_->dir() / "keys";
  hub_->config().agencies.push_back(
      {"police", "police", "police", keys / "police.sign.pub", keys / "police.enc.pub"});
  try {
    hub_->StartBroker();
    ADD_FAILURE() << "the broker started with police both enrolled and in broker.toml";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("both"), std::string::npos) << e.what();
  }
  hub_->config().agencies.pop_back();
  hub_->StartBroker();
}

TEST_F(EnrolmentTest, RefusalsAreAuditedWithoutLettingPeersFloodTheAuditTrail) {
  const auto sign = crypto::SigningKey::Generate();
  const auto enc = crypto::EncryptionKey::Generate();
  auto made = crypto::MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  const json body = {{"token", std::string(64, 'e')},
                     {"csr", made->request_pem},
                     {"sign_public_key", common::Base64Encode(sign.Public().bytes)},
                     {"enc_public_key", common::Base64Encode(enc.Public().bytes)}};
  auto& log = hub_->broker().audit();
  log.Flush();
  const uint64_t before = log.Size();
  const auto start = std::chrono::steady_clock::now();
  constexpr int kAttempts = 30;
  for (int i = 0; i < kAttempts; ++i) {
    EXPECT_EQ(Api("POST", "/api/v1/enrol", body).status, 401);
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  log.Flush();
  const uint64_t rows = log.Size() - before;
  EXPECT_GE(rows, 1u) << "a refusal must reach the audit trail";
  EXPECT_LE(rows, static_cast<uint64_t>(seconds) + 2) << "one row per second at most";
  EXPECT_LT(rows, static_cast<uint64_t>(kAttempts));
}

TEST_F(EnrolmentTest, NoLogLineHoldsTheTokenOrKeys) {
  auto sink_stream = std::make_shared<std::ostringstream>();
  common::InitLogging({"test", common::LogLevel::kDebug, false, std::nullopt});
  common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink_stream));
  const auto token_file = AddAgency("police", "police");
  std::ifstream in(token_file);
  std::string token;
  std::getline(in, token);
  const auto copy = hub_->dir() / "copy.token";
  ASSERT_TRUE(common::WritePrivateFile(copy, token + "\n", false).ok());
  auto enrolled = agent::Enrol(Options(token_file, "logged"), clock_);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  EXPECT_FALSE(agent::Enrol(Options(copy, "again"), clock_).ok());
  const agent::AgentConfig config = CompleteConfig(enrolled->config, "police");
  ASSERT_TRUE(agent::RenewCertificate(config, clock_, /*force=*/true).ok());
  spdlog::default_logger()->flush();
  const std::string logs = sink_stream->str();
  ASSERT_NE(logs.find("enrolment.enrolled"), std::string::npos);
  ASSERT_NE(logs.find("enrolment.refused"), std::string::npos);
  ASSERT_NE(logs.find("enrolment.renewed"), std::string::npos);
  std::vector<std::string> forbidden = {token};
  for (const char* secret : {"agency.sign.key", "agency.enc.key", "agent.db.key"}) {
    const auto kind =
        std::string(secret).find("sign") != std::string::npos  ? crypto::KeyKind::kSigningSecret
        : std::string(secret).find("enc") != std::string::npos ? crypto::KeyKind::kEncryptionSecret
                                                               : crypto::KeyKind::kDatabaseKey;
    auto key =
        crypto::ReadKeyFile(std::filesystem::absolute(hub_->dir() / "logged") / secret, kind);
    ASSERT_TRUE(key.ok()) << secret;
    forbidden.push_back(common::Base64Encode(key->span()));
    forbidden.push_back(common::HexEncode(key->span()));
  }
  forbidden.push_back("PRIVATE KEY");
  for (const auto& f : forbidden) {
    EXPECT_EQ(logs.find(f), std::string::npos) << "log holds " << f.substr(0, 8) << "...";
  }
  // The fixture's broker still logs as it stops: drop the sink that writes to sink_stream.
  common::InitLogging({"test", common::LogLevel::kWarn, true, std::nullopt});
}

}  // namespace
}  // namespace mash::testing
