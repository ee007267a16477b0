// Lifecycle of the daemons with real components (issue 8 item 3): a reload puts a new
// configuration, agreement and certificate in force all or nothing; a drain lets what is in
// flight finish within its bound and refuses new work; the broker survives agents that
// disconnect, hang or restart mid-query, and agents survive the broker restarting.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"
#include "mash/common/log.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"
#include "mash/policy/bundle.h"
#include "mash/schemas/messages.h"

namespace mash::testing {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kToken = "5e2d1c0b9a8f7e6d5c4b3a29180f1e2d3c4b5a69788f9e0d1c2b3a4958677f6e";

std::filesystem::path Examples() {
  return std::filesystem::path(MASH_SOURCE_DIR) / "examples/policies";
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

const json& PartOf(const json& check, const std::string& agency) {
  for (const auto& p : check["agencies"]) {
    if (p["agency"] == agency) return p;
  }
  static const json kNone;
  return kNone;
}

// Polls the check until `done` says so or `limit` passes; returns the last view.
json WaitCheck(TestHub& hub, const std::string& id, std::chrono::milliseconds limit,
               const std::function<bool(const json&)>& done) {
  const auto until = std::chrono::steady_clock::now() + limit;
  json shown;
  while (std::chrono::steady_clock::now() < until) {
    shown = PeekCheck(hub, id);
    if (done(shown)) break;
    std::this_thread::sleep_for(20ms);
  }
  return shown;
}

size_t CountEvents(const std::vector<audit::AuditEvent>& events, audit::EventType type,
                   const std::string& agency = "") {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
    return e.type == type && (agency.empty() || e.agency == agency);
  }));
}

// Log lines written since the object was made. One sink for the whole test binary, added once
// and never removed (the logger keeps it), over a stream that lives as long as the process.
class LogCapture {
 public:
  LogCapture() : start_(Stream().str().size()) {}
  std::string text() const { return Stream().str().substr(start_); }

 private:
  static std::ostringstream& Stream() {
    static std::ostringstream* stream = [] {
      auto* s = new std::ostringstream;
      common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(*s));
      return s;
    }();
    return *stream;
  }
  size_t start_;
};

// An agent driven by hand: a real Responder (keys, replay store, disclosure log in the agency's
// SQLCipher database) behind a raw connection, so that a test decides when a query is answered,
// or whether it ever is.
class ManualAgent {
 public:
  ManualAgent(TestHub& hub, const std::string& agency)
      : config_(hub.AgentConfigFor(agency, Fixture(agency))) {
    auto responder = agent::Responder::Create(config_, clock_, random_);
    if (!responder.ok()) throw std::runtime_error(responder.status().ToString());
    responder_ = std::move(*responder);
    client_ = std::make_unique<RawClient>(hub.pki().ClientOptions(agency), hub.agent_port());
  }

  // Connects, says hello and takes the welcome. false on any failure.
  bool Connect() {
    if (!client_->Connect()) return false;
    if (!client_->SendText(responder_->MakeHello().ToJson().dump())) return false;
    auto welcome = client_->Read(5s);
    if (!welcome) return false;
    auto frame = schemas::ParseFrame(*welcome);
    if (!frame.ok() || frame->type != schemas::MessageType::kWelcome) return false;
    return responder_->OnWelcome(schemas::Welcome::FromJson(frame->doc)).ok();
  }

  // The next query that arrives within `timeout` (other frames are skipped).
  std::optional<crypto::SealedEnvelope> NextQuery(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto text = client_->Read(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now()));
      if (!text) return std::nullopt;
      auto frame = schemas::ParseFrame(*text);
      if (!frame.ok() || frame->type != schemas::MessageType::kQuery) continue;
      auto env = crypto::SealedEnvelope::FromJson(frame->doc.at("envelope"));
      if (env.ok()) return *env;
    }
    return std::nullopt;
  }

  // Answers `query` as the agent would (recorded in the disclosure log); the frames, or empty.
  std::vector<std::string> Answer(const crypto::SealedEnvelope& query) {
    auto frame = responder_->Answer(query);
    if (!frame.ok()) return {};
    std::vector<std::string> out = responder_->TakeOutgoing();
    out.push_back(std::move(*frame));
    return out;
  }

  bool Send(const std::vector<std::string>& frames) {
    for (const auto& f : frames) {
      if (!client_->SendText(f)) return false;
    }
    return !frames.empty();
  }

  // Hangs up (the process dying).
  void Disconnect() { client_.reset(); }

  agent::Responder& responder() { return *responder_; }
  const agent::AgentConfig& config() const { return config_; }

 private:
  agent::AgentConfig config_;
  common::SystemClock clock_;
  common::SystemRandom random_;
  std::unique_ptr<agent::Responder> responder_;
  std::unique_ptr<RawClient> client_;
};

// ---- reload (SIGHUP) --------------------------------------------------------------------------

// A broker whose agreement is a bundle signed by a DPO key it trusts.
class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>([this](broker::BrokerConfig& c) {
      const auto keys = c.database.parent_path() / "keys";
      if (!crypto::GenerateKeyPairFiles(keys, "dpo").ok()) throw std::runtime_error("dpo keys");
      dpo_key_file_ = keys / "dpo.sign.key";
      agreement_file_ = c.database.parent_path() / "agreement.json";
      WriteSigned(ReadText(Examples() / "hub-agreement.toml"));
      c.policy.agreement = agreement_file_;
      c.policy.trusted_keys = {keys / "dpo.sign.pub"};
      const auto digest = crypto::Sha256(common::AsBytes(kToken));
      c.api_tokens.push_back(
          {"pat.practitioner", "practitioner", common::HexEncode(digest), "mash"});
    });
  }

  // Writes `source` as a bundle signed by the DPO key over the agreement file.
  std::string WriteSigned(const std::string& source) {
    auto bundle = policy::MakeBundle(source, "hub-agreement.toml");
    if (!bundle.ok()) throw std::runtime_error(bundle.status().ToString());
    auto key = crypto::LoadSigningKey(dpo_key_file_);
    if (!key.ok()) throw std::runtime_error(key.status().ToString());
    policy::SignBundle(*bundle, *key);
    WriteText(agreement_file_, bundle->ToJson());
    return bundle->version;
  }

  Status Reload() {
    return OnIo(hub_->io(), [&] { return hub_->broker().Reload(hub_->config()); });
  }

  std::string EnforcedVersion() {
    return OnIo(hub_->io(), [&] { return hub_->broker().checks().agreement().enforced().version; });
  }

  static std::string NoPractitioners(const std::string& source) {
    return source +
           "\n[[rule]]\nid = \"reload-no-practitioners\"\neffect = \"forbid\"\n"
           "roles = [\"practitioner\"]\n";
  }

  std::unique_ptr<TestHub> hub_;
  std::filesystem::path dpo_key_file_;
  std::filesystem::path agreement_file_;
};

TEST_F(ReloadTest, ANewlySignedAgreementTakesEffectAndItsPublicationIsAudited) {
  ASSERT_TRUE(hub_->Raise(ConsentedCheck({"police"})).ok());
  const std::string old_version = EnforcedVersion();
  const std::string new_version =
      WriteSigned(NoPractitioners(ReadText(Examples() / "hub-agreement.toml")));
  ASSERT_NE(new_version, old_version);

  LogCapture logs;
  const Status reloaded = Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.ToString();
  EXPECT_EQ(EnforcedVersion(), new_version);
  // The same practitioner is now refused by the agreement in force.
  auto refused = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  // The DPO pages show the new version too.
  EXPECT_EQ(
      OnIo(hub_->io(), [&] { return hub_->broker().policy_view().agreement().enforced().version; }),
      new_version);
  const auto events = AuditEventsOf(*hub_);
  const bool published = std::any_of(events.begin(), events.end(), [&](const auto& e) {
    return e.type == audit::EventType::kPolicyPublished && e.policy_version == new_version;
  });
  EXPECT_TRUE(published);
  EXPECT_NE(logs.text().find("\"broker.reloaded\""), std::string::npos);
  // Reloading the same files again records nothing new.
  const size_t before = AuditEventsOf(*hub_).size();
  ASSERT_TRUE(Reload().ok());
  EXPECT_EQ(AuditEventsOf(*hub_).size(), before);
}

TEST_F(ReloadTest, AnUnsignedOrTamperedAgreementLeavesTheRunningOneInForce) {
  const std::string old_version = EnforcedVersion();
  // Unsigned: a bundle without the DPO's signature.
  auto unsigned_bundle =
      policy::MakeBundle(NoPractitioners(ReadText(Examples() / "hub-agreement.toml")), "a.toml");
  ASSERT_TRUE(unsigned_bundle.ok());
  WriteText(agreement_file_, unsigned_bundle->ToJson());
  LogCapture logs;
  Status reloaded = Reload();
  EXPECT_EQ(reloaded.code(), StatusCode::kUnauthenticated) << reloaded.ToString();
  EXPECT_EQ(EnforcedVersion(), old_version);
  EXPECT_TRUE(hub_->Raise(ConsentedCheck({"police"})).ok());  // the old agreement still decides
  EXPECT_NE(logs.text().find("\"broker.reload_failed\""), std::string::npos) << logs.text();

  // Tampered: signed, then its source changed.
  WriteSigned(ReadText(Examples() / "hub-agreement.toml"));
  std::string text = ReadText(agreement_file_);
  const auto at = text.find("child-protection-s47");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 5, "adult");
  WriteText(agreement_file_, text);
  EXPECT_FALSE(Reload().ok());
  EXPECT_EQ(EnforcedVersion(), old_version);

  const auto events = AuditEventsOf(*hub_);
  size_t failures = 0;
  for (const auto& e : events) {
    if (e.type == audit::EventType::kRequestFailed && e.detail == "reload_failed:policy") {
      ++failures;
      EXPECT_EQ(e.person, "mash-broker");
    }
  }
  EXPECT_EQ(failures, 2u);
}

TEST_F(ReloadTest, TheLogLevelChangesAndRestartOnlySettingsAreKeptWithAWarning) {
  LogCapture logs;
  auto& config = hub_->config();
  config.log.level = common::LogLevel::kWarn;
  const uint16_t api_port = config.api_port;
  config.api_port = static_cast<uint16_t>(api_port + 1);
  ASSERT_TRUE(Reload().ok());
  common::LogInfo("lifecycle_test.info_after_warn");
  common::LogWarn("lifecycle_test.warn_after_warn");
  EXPECT_EQ(logs.text().find("lifecycle_test.info_after_warn"), std::string::npos);
  EXPECT_NE(logs.text().find("lifecycle_test.warn_after_warn"), std::string::npos);
  EXPECT_NE(logs.text().find("\"broker.reload_restart_needed\""), std::string::npos);
  EXPECT_NE(logs.text().find("api listen address"), std::string::npos);
  EXPECT_EQ(OnIo(hub_->io(), [&] { return hub_->broker().api_port(); }), api_port);
  config.api_port = api_port;
  config.log.level = common::LogLevel::kInfo;
  ASSERT_TRUE(Reload().ok());
  common::LogInfo("lifecycle_test.info_after_info");
  EXPECT_NE(logs.text().find("lifecycle_test.info_after_info"), std::string::npos);
}

// The certificate the API listener presents to a new TLS connection, as DER.
std::string PresentedCertificate(uint16_t port) {
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);  // only looking at what is presented
  net::ssl::stream<net::ip::tcp::socket> stream(io, ctx);
  boost::system::error_code ec;
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "";
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) return "";
  X509* cert = SSL_get1_peer_certificate(stream.native_handle());
  if (cert == nullptr) return "";
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(std::max(n, 0)));
  OPENSSL_free(der);
  X509_free(cert);
  stream.shutdown(ec);
  return out;
}

std::string FirstCertificateOf(const std::filesystem::path& pem) {
  FILE* f = fopen(pem.c_str(), "r");
  if (f == nullptr) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (cert == nullptr) return "";
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(std::max(n, 0)));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

TEST_F(ReloadTest, ARenewedCertificateIsPresentedToNewConnectionsAndABrokenOneIsNot) {
  const uint16_t port = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
  const std::string old_cert = FirstCertificateOf(hub_->config().tls.cert_chain_file);
  ASSERT_FALSE(old_cert.empty());
  EXPECT_EQ(PresentedCertificate(port), old_cert);

  auto& pki = hub_->pki();
  ASSERT_TRUE(pki.Issue("broker-renewed", "server", "", pki.broker_name()));
  std::filesystem::permissions(pki.key("broker-renewed"), std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write);
  hub_->config().tls.cert_chain_file = pki.chain("broker-renewed");
  hub_->config().tls.key_file = pki.key("broker-renewed");
  ASSERT_TRUE(Reload().ok());
  const std::string new_cert = FirstCertificateOf(pki.chain("broker-renewed"));
  ASSERT_FALSE(new_cert.empty());
  EXPECT_NE(new_cert, old_cert);
  EXPECT_EQ(PresentedCertificate(port), new_cert);
  // Agents connect with the renewed certificate too.
  hub_->StartAgent("police", Fixture("police"));
  EXPECT_TRUE(hub_->WaitOnline("police", 10s));

  // A key that does not match its certificate: refused, the renewed one stays.
  LogCapture logs;
  hub_->config().tls.key_file = pki.key("broker");
  const Status broken = Reload();
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(PresentedCertificate(port), new_cert);
  EXPECT_NE(logs.text().find("\"broker.reload_failed\""), std::string::npos);
  const auto events = AuditEventsOf(*hub_);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kRequestFailed && e.detail == "reload_failed:tls";
  }));
}

// ---- drain (SIGTERM) --------------------------------------------------------------------------

class DrainTest : public ::testing::Test {
 protected:
  void Start(std::chrono::seconds bound) {
    hub_ = std::make_unique<TestHub>([bound](broker::BrokerConfig& c) {
      c.drain_timeout = bound;
      const auto digest = crypto::Sha256(common::AsBytes(kToken));
      c.api_tokens.push_back(
          {"pat.practitioner", "practitioner", common::HexEncode(digest), "mash"});
    });
  }

  // Begins the drain; the future is ready when the broker says it drained.
  std::shared_future<void> BeginDrain() {
    auto drained = std::make_shared<std::promise<void>>();
    std::shared_future<void> fut = drained->get_future().share();
    OnIo(hub_->io(), [&] {
      hub_->broker().BeginDrain([drained] { drained->set_value(); });
      return 0;
    });
    return fut;
  }

  HttpReply RaiseOverHttps(const std::string& agency) {
    const json body = ConsentedCheckBody({agency});
    const uint16_t port = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
    return HttpsCall(hub_->pki(), port, "POST", "/api/v1/checks", body.dump(), kToken);
  }

  std::unique_ptr<TestHub> hub_;
};

TEST_F(DrainTest, AnInFlightCheckCompletesDuringTheDrainWhileNewChecksGetA503) {
  Start(20s);
  ManualAgent police(*hub_, "police");
  ASSERT_TRUE(police.Connect());
  auto id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  auto query = police.NextQuery(10s);
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(RaiseOverHttps("housing").status, 201);  // offline: queued, not in flight

  auto drained = BeginDrain();
  EXPECT_TRUE(OnIo(hub_->io(), [&] { return hub_->broker().draining(); }));
  const HttpReply refused = RaiseOverHttps("housing");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body["error"]["code"], "unavailable");
  EXPECT_EQ(refused.body.dump().find("stopping"), std::string::npos);  // generic
  // No new agent connection is taken.
  RawClient late(hub_->pki().ClientOptions("health"), hub_->agent_port());
  EXPECT_FALSE(late.Connect());
  // The query sent before the drain holds it open.
  EXPECT_EQ(drained.wait_for(300ms), std::future_status::timeout);

  ASSERT_TRUE(police.Send(police.Answer(*query)));
  EXPECT_EQ(drained.wait_for(10s), std::future_status::ready);
  const json check = PeekCheck(*hub_, *id);
  EXPECT_EQ(check["state"], "answered") << check.dump(2);
  const auto events = AuditEventsOf(*hub_, *id);
  EXPECT_EQ(CountEvents(events, audit::EventType::kAnswerReceived, "police"), 1u);
  const auto all = AuditEventsOf(*hub_);
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const auto& e) {
    return e.type == audit::EventType::kRequestRefused && e.detail == "broker_draining";
  }));
}

TEST_F(DrainTest, TheBoundIsHonouredWhenAnAgentNeverAnswers) {
  Start(1s);
  ManualAgent police(*hub_, "police");
  ASSERT_TRUE(police.Connect());
  auto id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(police.NextQuery(10s).has_value());  // and never answered
  const auto began = std::chrono::steady_clock::now();
  auto drained = BeginDrain();
  ASSERT_EQ(drained.wait_for(10s), std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(PeekCheck(*hub_, *id)["state"], "dispatched");
}

TEST_F(DrainTest, WithNothingInFlightTheDrainEndsAtOnce) {
  Start(30s);
  const auto began = std::chrono::steady_clock::now();
  auto drained = BeginDrain();
  ASSERT_EQ(drained.wait_for(5s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
}

// An executable that answers "no records" after `delay_s` seconds: a slow record system.
std::filesystem::path SlowConnector(const std::filesystem::path& dir, double delay_s) {
  const auto path = dir / "slow-lookup.sh";
  WriteText(path, "#!/bin/sh\ncat >/dev/null\nsleep " + std::to_string(delay_s) +
                      "\necho '{\"matches\": []}'\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// Starts a real police agent whose record system is SlowConnector(`delay_s`); true once the
// agent is online at the hub.
bool StartSlowPolice(TestHub& hub, double delay_s) {
  const auto script = SlowConnector(hub.dir().path(), delay_s);
  hub.StartAgent("police", Fixture("police"), [&](agent::AgentConfig& c, crypto::TlsOptions&) {
    c.records_fixture.clear();
    c.records_command = {script.string()};
    c.records_command_timeout = 10s;
  });
  return hub.WaitOnline("police", 10s);
}

TEST(AgentDrainTest, AnAnswerBeingComputedIsSentBeforeTheChannelCloses) {
  TestHub hub;
  ASSERT_TRUE(StartSlowPolice(hub, 1.5));
  auto id = hub.Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  std::this_thread::sleep_for(500ms);  // the query is at the connector
  auto drained = std::make_shared<std::promise<void>>();
  auto fut = drained->get_future();
  auto& channel = hub.AgentChannel(0);
  net::post(hub.AgentIo(0), [&channel, drained] {
    channel.Drain(10s, [&channel, drained] {
      channel.Stop();
      drained->set_value();
    });
  });
  ASSERT_EQ(fut.wait_for(15s), std::future_status::ready);
  const json check =
      WaitCheck(hub, *id, 5s, [](const json& c) { return c["state"] == "answered"; });
  EXPECT_EQ(check["state"], "answered") << check.dump(2);
  // The agent closed its connection and did not come back.
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(OnIo(hub.io(), [&] { return hub.broker().hub().IsOnline("police"); }));
}

// ---- resilience --------------------------------------------------------------------------------

TEST(ResilienceTest, AHangingAgentBreachesItsDeadlineAndTheCheckCompilesTheOthers) {
  // Round the clock, so that the red allowance (4 working hours) is 4 hours of the fake clock.
  common::FakeClock clock(common::SystemClock().Now());
  TestHub hub([](broker::BrokerConfig& c) { c.deadlines.hours.always = true; }, &clock);
  hub.StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  ManualAgent health(hub, "health");
  ASSERT_TRUE(health.Connect());
  auto id = hub.Raise(ConsentedCheck({"police", "health"}, "red"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(health.NextQuery(10s).has_value());  // taken, never answered
  json check = WaitCheck(hub, *id, 10s, [](const json& c) {
    return PartOf(c, "police").value("state", "") != "sent";
  });
  // Answered (its custodian reviews some categories): all the police had to say now.
  const std::string police_state = PartOf(check, "police").value("state", "");
  EXPECT_TRUE(police_state == "answered" || police_state == "awaiting_agency_review")
      << check.dump(2);
  EXPECT_EQ(check.value("state", ""), "dispatched");

  clock.Advance(std::chrono::hours(4) + std::chrono::minutes(1));
  // The check reads overdue at once; the breach is the broker's sweep (each second) seeing it.
  check = WaitCheck(hub, *id, 5s,
                    [](const json& c) { return PartOf(c, "health").value("breached", false); });
  EXPECT_TRUE(check.value("overdue", false)) << check.dump(2);
  EXPECT_EQ(check.value("state", ""), "partially_answered") << check.dump(2);
  EXPECT_TRUE(PartOf(check, "health").value("breached", false)) << check.dump(2);
  EXPECT_EQ(PartOf(check, "police").value("state", ""), police_state);
  EXPECT_EQ(CountEvents(AuditEventsOf(hub, *id), audit::EventType::kDeadlineBreached, "health"),
            1u);
  // The hung connection did not take the broker with it: other checks are still served.
  auto next = hub.Raise(ConsentedCheck({"police"}, "red"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(
      WaitCheck(hub, *next, 10s, [](const json& c) { return c["state"] == "answered"; })["state"],
      "answered");
}

TEST(ResilienceTest, AQueryLostWithADisconnectedAgentIsResentAndAnsweredOnce) {
  TestHub hub;
  ManualAgent police(hub, "police");
  ASSERT_TRUE(police.Connect());
  auto id = hub.Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  auto query = police.NextQuery(10s);
  ASSERT_TRUE(query.has_value());
  police.Disconnect();  // mid-query: read, never answered
  json check = PeekCheck(hub, *id);
  EXPECT_EQ(check["state"], "dispatched");

  hub.StartAgent("police", Fixture("police"));  // the agent back, same database
  check = WaitCheck(hub, *id, 10s, [](const json& c) { return c["state"] == "answered"; });
  EXPECT_EQ(check["state"], "answered") << check.dump(2);
  const auto events = AuditEventsOf(hub, *id);
  EXPECT_EQ(CountEvents(events, audit::EventType::kQuerySent, "police"), 2u);
  EXPECT_EQ(CountEvents(events, audit::EventType::kAnswerReceived, "police"), 1u);
}

TEST(ResilienceTest, AnAgentRestartingAfterRecordingAnAnswerItNeverSentDisclosesOnce) {
  TestHub hub;
  {
    ManualAgent police(hub, "police");
    ASSERT_TRUE(police.Connect());
    auto id = hub.Raise(ConsentedCheck({"police"}));
    ASSERT_TRUE(id.ok());
    auto query = police.NextQuery(10s);
    ASSERT_TRUE(query.has_value());
    // Answered and written to the disclosure log, then the process dies before sending it.
    ASSERT_FALSE(police.Answer(*query).empty());
    police.Disconnect();
    hub.StartAgent("police", Fixture("police"));
    const json check =
        WaitCheck(hub, *id, 10s, [](const json& c) { return c["state"] == "answered"; });
    EXPECT_EQ(check["state"], "answered") << check.dump(2);
    const auto events = AuditEventsOf(hub, *id);
    EXPECT_EQ(CountEvents(events, audit::EventType::kAnswerReceived, "police"), 1u);
  }
  hub.StopAgents();
  // The disclosure log holds one answer for the query: the resent copy got the same answer, not
  // a second disclosure.
  const auto config = hub.AgentConfigFor("police", Fixture("police"));
  auto db = storage::Database::Open({config.database, config.database_key});
  ASSERT_TRUE(db.ok());
  auto stmt = (*db)->Prepare("SELECT count(*) FROM disclosures");
  ASSERT_TRUE(stmt.ok());
  auto row = stmt->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(stmt->ColumnInt(0), 1);
}

TEST(ResilienceTest, AnAnswerInFlightWhenTheBrokerGoesAwayIsAnsweredAfterItsRestart) {
  TestHub hub;
  ASSERT_TRUE(StartSlowPolice(hub, 1.5));
  auto id = hub.Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  std::this_thread::sleep_for(300ms);  // the agent is looking the query up
  hub.StopBroker();                    // the answer has nowhere to go
  std::this_thread::sleep_for(2s);     // the lookup ends while the broker is away
  hub.StartBroker();
  const json check =
      WaitCheck(hub, *id, 20s, [](const json& c) { return c["state"] == "answered"; });
  EXPECT_EQ(check["state"], "answered") << check.dump(2);
  EXPECT_EQ(CountEvents(AuditEventsOf(hub, *id), audit::EventType::kAnswerReceived, "police"), 1u);
}

}  // namespace
}  // namespace mash::testing
