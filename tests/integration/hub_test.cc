// The secure channel end to end: a real broker and real agents over mutual TLS, and raw clients
// that break the protocol in every way that matters.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <sstream>

#include "harness.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/messages.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;

broker::RaiseRequest SampleRequest(std::vector<std::string> agencies) {
  broker::RaiseRequest r;
  r.subject.given_names = "Amelia";
  r.subject.family_name = "Jones";
  r.subject.dob = "2015-03-09";
  r.subject.postcodes = {"LS6 2AB"};
  r.subject.identifiers = {{"nhs_number", "943 476 5919"}, {"upn", "H801200001001"}};
  r.purpose = "child-protection-s47";
  r.lawful_basis = "uk-gdpr-6-1-e";
  r.consent_state = "given";
  r.evidence_ref = "consent form CF-2026-0042";
  r.urgency = "red";
  r.level = 2;
  r.agencies = std::move(agencies);
  return r;
}

nlohmann::json WaitForAnswers(TestHub& hub, const std::string& id, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  nlohmann::json shown;
  while (std::chrono::steady_clock::now() < until) {
    shown = OnIo(hub.io(), [&] { return *hub.broker().checks().Peek(id); });
    if (shown["state"] != "dispatched") break;
    std::this_thread::sleep_for(20ms);
  }
  return shown;
}

const nlohmann::json& Part(const nlohmann::json& check, const std::string& agency) {
  for (const auto& p : check["agencies"]) {
    if (p["agency"] == agency) return p;
  }
  static const nlohmann::json kNone;
  return kNone;
}

TEST(HubTest, OneCheckTravelsToSixAgentsAndBack) {
  TestHub hub;
  for (const auto& a : kAgencies) hub.StartAgent(a, Fixture(a));
  for (const auto& a : kAgencies) ASSERT_TRUE(hub.WaitOnline(a, 10s)) << a;

  auto id = hub.Raise(SampleRequest(kAgencies));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const nlohmann::json check = WaitForAnswers(hub, *id, 15s);
  ASSERT_EQ(check["state"], "answered") << check.dump(2);
  ASSERT_EQ(check["agencies"].size(), 6u);

  const auto& police = Part(check, "police");
  EXPECT_TRUE(police["answer"]["held"].get<bool>());
  EXPECT_EQ(police["answer"]["match"], "confirmed");
  EXPECT_EQ(police["answer"]["matched_on"], nlohmann::json::array({"nhs_number"}));
  EXPECT_GE(police["answer"]["categories"].size(), 1u);
  EXPECT_GE(police["elapsed_ms"].get<int64_t>(), 0);
  // Level 2 shares summaries and dates, not the records themselves.
  for (const auto& c : police["answer"]["categories"]) EXPECT_FALSE(c.contains("records"));

  const auto& education = Part(check, "education");
  EXPECT_TRUE(education["answer"]["held"].get<bool>());
  // Probation and housing hold nothing under the child's identifiers.
  EXPECT_FALSE(Part(check, "probation")["answer"]["held"].get<bool>());
  EXPECT_FALSE(Part(check, "housing")["answer"]["held"].get<bool>());
}

TEST(HubTest, DiscoveryLevelSaysOnlyHeldOrNotHeld) {
  TestHub hub;
  hub.StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  auto req = SampleRequest({"police"});
  req.level = 0;
  auto id = hub.Raise(req);
  ASSERT_TRUE(id.ok());
  const auto check = WaitForAnswers(hub, *id, 10s);
  const auto& police = Part(check, "police");
  EXPECT_TRUE(police["answer"]["held"].get<bool>());
  EXPECT_TRUE(police["answer"]["categories"].empty());
}

TEST(HubTest, QueryWaitsForAnOfflineAgencyAndGoesOutWhenItConnects) {
  TestHub hub;
  auto id = hub.Raise(SampleRequest({"health"}));
  ASSERT_TRUE(id.ok());
  auto shown = OnIo(hub.io(), [&] { return *hub.broker().checks().Peek(*id); });
  EXPECT_EQ(Part(shown, "health")["state"], "waiting_for_agent");
  hub.StartAgent("health", Fixture("health"));
  const auto check = WaitForAnswers(hub, *id, 10s);
  EXPECT_EQ(check["state"], "answered") << check.dump();
}

TEST(HubTest, BacklogLargerThanTheConnectionQueueIsAllAnswered) {
  TestHub hub([](broker::BrokerConfig& c) { c.max_queue = 8; });
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    auto id = hub.Raise(SampleRequest({"police"}));
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  // Sixty queries wait for an agency whose connection queue holds eight frames.
  hub.StartAgent("police", Fixture("police"));
  for (const auto& id : ids) {
    EXPECT_EQ(WaitForAnswers(hub, id, 20s)["state"], "answered") << id;
  }
}

// Checks raised while answers come back: the receipts for the answers are sealed after queries
// still waiting for their query_sent events to commit, and must not overtake them (an agent
// refuses an envelope whose sequence is not above the last it took, as replayed). Every part of
// every check is answered, and no agent refused anything as replayed.
TEST(HubTest, ChecksRaisedWhileAnswersComeBackAreAllAnsweredInSequence) {
  auto sink = std::make_shared<CapturedLines>();
  common::InitLogging({"test", common::LogLevel::kInfo, false, std::nullopt});
  common::AddLogSink(sink);
  {
    TestHub hub;
    for (const auto& a : kAgencies) hub.StartAgent(a, Fixture(a));
    for (const auto& a : kAgencies) ASSERT_TRUE(hub.WaitOnline(a, 10s)) << a;
    constexpr int kChecks = 100;
    std::mutex mu;
    std::vector<std::string> ids;
    int failed = 0;
    const broker::RaiseRequest request = SampleRequest(kAgencies);
    // Raised without waiting for each other, a millisecond apart, so that raises, queries,
    // answers and receipts interleave on the broker's thread.
    for (int i = 0; i < kChecks; ++i) {
      boost::asio::post(hub.io(), [&] {
        hub.broker().checks().Raise(
            request, broker::Staff{"test.practitioner", "practitioner", "hub", "mash"},
            [&](Result<nlohmann::json> r) {
              std::lock_guard lock(mu);
              if (r.ok()) {
                ids.push_back(r->at("id").get<std::string>());
              } else {
                ++failed;
              }
            });
      });
      std::this_thread::sleep_for(1ms);
    }
    const auto until = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (static_cast<int>(ids.size()) + failed == kChecks) break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "raises did not complete";
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(failed, 0);
    int unanswered = 0;
    for (const auto& id : ids) {
      const nlohmann::json check = WaitForAnswers(hub, id, 60s);
      if (check["state"] != "answered") ++unanswered;
      for (const auto& a : kAgencies) {
        // Answered, or answered with some categories left to the agency's custodian.
        const std::string state = Part(check, a)["state"];
        EXPECT_TRUE(state == "answered" || state == "awaiting_agency_review")
            << id << " " << a << " " << state;
      }
    }
    EXPECT_EQ(unanswered, 0);
    // Every answer gets its receipt, each proving consistency from the checkpoint the agent holds
    // when it takes it, however many were sealed before the one ahead of it was sent.
    const int receipts = kChecks * static_cast<int>(std::size(kAgencies));
    const auto settled = std::chrono::steady_clock::now() + 30s;
    while (CountLines(sink->Text(), "receipt.accepted") < receipts &&
           CountLines(sink->Text(), "audit.resync_needed") == 0 &&
           std::chrono::steady_clock::now() < settled) {
      std::this_thread::sleep_for(50ms);
    }
    const std::string text = sink->Text();
    EXPECT_EQ(CountLines(text, "audit.resync_needed"), 0);
    EXPECT_EQ(CountLines(text, "receipt.rejected"), 0);
    EXPECT_EQ(CountLines(text, "receipt.accepted"), receipts);
    std::istringstream lines(text);
    int replayed = 0;
    std::string example;
    for (std::string line; std::getline(lines, line);) {
      if (line.find("replayed") == std::string::npos) continue;
      ++replayed;
      example = line;
    }
    EXPECT_EQ(replayed, 0) << example;
  }
  common::InitLogging({"test", common::LogLevel::kWarn, true, std::nullopt});
}

TEST(HubTest, AgentRefusesABrokerWithKeysOtherThanThePinnedOnes) {
  TestHub hub;
  hub.StartAgent("police", Fixture("police"), [&](agent::AgentConfig& c, crypto::TlsOptions&) {
    c.broker_sign_public_key = hub.dir() / "keys" / "health.sign.pub";
  });
  // The agent hangs up on the welcome, so it never answers a query.
  auto id = hub.Raise(SampleRequest({"police"}));
  ASSERT_TRUE(id.ok());
  std::this_thread::sleep_for(2s);
  auto shown = OnIo(hub.io(), [&] { return *hub.broker().checks().Peek(*id); });
  EXPECT_NE(Part(shown, "police")["state"], "answered");
  // With the right keys the same agent is served.
  hub.StopAgents();
  hub.StartAgent("police", Fixture("police"));
  EXPECT_EQ(WaitForAnswers(hub, *id, 10s)["state"], "answered");
}

TEST(HubTest, AgentRefusesABrokerOutsideItsCaPin) {
  TestHub hub;
  hub.StartAgent("police", Fixture("police"), [](agent::AgentConfig&, crypto::TlsOptions& tls) {
    tls.ca_pin = "sha256:" + std::string(64, '0');
  });
  // The pin fails the TLS handshake: the agent never even says hello.
  EXPECT_FALSE(hub.WaitOnline("police", 2s));
}

TEST(HubTest, AgentReconnectsAfterTheBrokerRestarts) {
  TestHub hub;
  hub.StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  hub.StopBroker();
  hub.StartBroker();
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  auto id = hub.Raise(SampleRequest({"police"}));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitForAnswers(hub, *id, 10s)["state"], "answered");
}

TEST(HubTest, CertificateForOneAgencyCannotClaimAnother) {
  TestHub hub;
  RawClient client(hub.pki().ClientOptions("police"), hub.agent_port());
  ASSERT_TRUE(client.Connect());
  // A valid police certificate, health's registered keys, and a payload that says "health".
  ASSERT_TRUE(client.SendText(RawClient::Hello("health", hub.dir() / "keys")));
  auto reply = client.Read(5s);
  ASSERT_TRUE(reply.has_value());
  auto frame = schemas::ParseFrame(*reply);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->type, schemas::MessageType::kError);
  EXPECT_EQ(frame->doc["code"], "unauthorised");
  EXPECT_EQ(frame->doc["message"], "cannot process request");
  EXPECT_TRUE(client.WaitClosed(5s));
  EXPECT_FALSE(OnIo(hub.io(), [&] { return hub.broker().hub().IsOnline("health"); }));
}

TEST(HubTest, RefusesKeysOtherThanTheRegisteredOnes) {
  TestHub hub;
  RawClient client(hub.pki().ClientOptions("police"), hub.agent_port());
  ASSERT_TRUE(client.Connect());
  ASSERT_TRUE(client.SendText(RawClient::Hello("police", hub.dir() / "keys", "health")));
  auto reply = client.Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("unauthorised"), std::string::npos);
  EXPECT_TRUE(client.WaitClosed(5s));
  EXPECT_FALSE(OnIo(hub.io(), [&] { return hub.broker().hub().IsOnline("police"); }));
}

TEST(HubTest, RefusesAnAgencyThatIsNotRegistered) {
  TestHub hub;
  ASSERT_TRUE(hub.pki().Issue("agency-martians", "client", "martians"));
  auto opts = hub.pki().ClientOptions("police");
  opts.cert_chain_file = hub.pki().chain("agency-martians");
  opts.key_file = hub.pki().key("agency-martians");
  ASSERT_TRUE(crypto::GenerateKeyPairFiles(hub.dir() / "keys", "martians").ok());
  RawClient client(opts, hub.agent_port());
  ASSERT_TRUE(client.Connect());
  ASSERT_TRUE(client.SendText(RawClient::Hello("martians", hub.dir() / "keys")));
  auto reply = client.Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("unauthorised"), std::string::npos);
  EXPECT_TRUE(client.WaitClosed(5s));
}

TEST(HubTest, WrongPathIsRefused) {
  TestHub hub;
  RawClient client(hub.pki().ClientOptions("police"), hub.agent_port());
  EXPECT_FALSE(client.Connect("/admin"));
}

class WelcomedClient : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>([](broker::BrokerConfig& c) {
      c.handshake_timeout = 1s;
      c.idle_timeout = 2s;
    });
    client_ = std::make_unique<RawClient>(hub_->pki().ClientOptions("police"), hub_->agent_port());
    ASSERT_TRUE(client_->Connect());
    ASSERT_TRUE(client_->SendText(RawClient::Hello("police", hub_->dir() / "keys")));
    auto welcome = client_->Read(5s);
    ASSERT_TRUE(welcome.has_value());
    auto frame = schemas::ParseFrame(*welcome);
    ASSERT_TRUE(frame.ok());
    ASSERT_EQ(frame->type, schemas::MessageType::kWelcome);
  }

  // Sends a ping and expects its reply: the connection is healthy.
  void ExpectHealthy() {
    ASSERT_TRUE(client_->SendText(schemas::Ping{"00112233aabbccdd", false}.ToJson().dump()));
    for (int i = 0; i < 4; ++i) {
      auto msg = client_->Read(5s);
      ASSERT_TRUE(msg.has_value()) << "connection closed";
      if (msg->find("00112233aabbccdd") != std::string::npos) return;
    }
    FAIL() << "no ping reply";
  }

  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<RawClient> client_;
};

TEST_F(WelcomedClient, MalformedJsonGetsAGenericErrorAndTheConnectionStaysHealthy) {
  ASSERT_TRUE(client_->SendText("{\"type\": \"ping\", "));
  auto reply = client_->Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("bad_request"), std::string::npos);
  EXPECT_NE(reply->find("cannot process request"), std::string::npos);
  ExpectHealthy();
}

TEST_F(WelcomedClient, SchemaInvalidMessagesAreRefusedWithoutHarm) {
  for (const char* bad :
       {R"({"type":"ping","v":1,"nonce":"xyz","reply":false})",
        R"({"type":"answer","v":1,"envelope":{"header":"AAAA"}})", R"({"type":"query","v":1})",
        R"([1,2,3])", R"("ping")", R"({"type":"hello","v":2})"}) {
    ASSERT_TRUE(client_->SendText(bad)) << bad;
    auto reply = client_->Read(5s);
    ASSERT_TRUE(reply.has_value()) << bad;
    EXPECT_NE(reply->find("bad_request"), std::string::npos) << bad;
  }
  ExpectHealthy();
}

TEST_F(WelcomedClient, ForgedAnswerEnvelopeIsRefused) {
  crypto::SealedEnvelope env;
  env.header.assign(40, 'h');
  env.key.assign(80, 'k');
  env.nonce.assign(24, 'n');
  env.body.assign(40, 'b');
  env.sig.assign(64, 's');
  ASSERT_TRUE(client_->SendText(
      schemas::EnvelopeFrame(schemas::MessageType::kAnswer, env.ToJson()).dump()));
  auto reply = client_->Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("cannot process request"), std::string::npos);
  ExpectHealthy();
}

TEST_F(WelcomedClient, BinaryFramesAreRefused) {
  ASSERT_TRUE(client_->SendBinary(std::string("\x00\x01\x02", 3)));
  auto reply = client_->Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("bad_request"), std::string::npos);
  ExpectHealthy();
}

TEST_F(WelcomedClient, RepeatedProtocolErrorsCloseTheConnection) {
  for (int i = 0; i < 12; ++i) {
    if (!client_->SendText("nonsense")) break;
  }
  EXPECT_TRUE(client_->WaitClosed(5s));
}

TEST_F(WelcomedClient, FrameJustOverTheLimitClosesTheConnection) {
  const std::string big = R"({"type":"ping","v":1,"nonce":")" +
                          std::string(schemas::kMaxFrameBytes, 'a') + R"(","reply":false})";
  client_->SendText(big);  // the broker may reset the connection mid-write
  EXPECT_TRUE(client_->WaitClosed(5s));
}

TEST_F(WelcomedClient, FrameHeaderClaimingGigabytesIsRefusedBeforeAllocation) {
  // FIN + text opcode, masked, 64-bit length of 4 GiB, mask key, and only a few bytes of payload.
  std::string header = {static_cast<char>(0x81), static_cast<char>(0xFF)};
  const uint64_t len = 4ULL << 30;
  for (int i = 7; i >= 0; --i) header.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  header += std::string("\x01\x02\x03\x04", 4);
  header += "abcd";
  ASSERT_TRUE(client_->SendRaw(header));
  // Closed at once, long before 4 GiB could arrive or be allocated.
  EXPECT_TRUE(client_->WaitClosed(3s));
}

TEST_F(WelcomedClient, IdlePeerIsCutByTheDeadline) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client_->WaitClosed(8s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(HubTest, PeerThatStallsInTheTlsHandshakeIsCut) {
  TestHub hub([](broker::BrokerConfig& c) { c.handshake_timeout = 1s; });
  // Connect and say nothing. The broker must close the socket by its handshake deadline.
  const auto start = std::chrono::steady_clock::now();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), hub.agent_port()});
  s.non_blocking(false);
  struct timeval tv {
    6, 0
  };
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  boost::system::error_code ec;
  const size_t n = s.read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(ec, boost::asio::error::eof);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HubTest, PeerThatNeverSaysHelloIsCut) {
  TestHub hub([](broker::BrokerConfig& c) { c.handshake_timeout = 1s; });
  RawClient client(hub.pki().ClientOptions("police"), hub.agent_port());
  ASSERT_TRUE(client.Connect());
  EXPECT_TRUE(client.WaitClosed(5s));
}

TEST(HubTest, ConnectionsPerAgencyAreCapped) {
  TestHub hub([](broker::BrokerConfig& c) { c.max_connections_per_agency = 2; });
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(
        std::make_unique<RawClient>(hub.pki().ClientOptions("police"), hub.agent_port()));
    ASSERT_TRUE(clients.back()->Connect());
    ASSERT_TRUE(clients.back()->SendText(RawClient::Hello("police", hub.dir() / "keys")));
    auto reply = clients.back()->Read(5s);
    ASSERT_TRUE(reply.has_value());
    if (i < 2) {
      EXPECT_NE(reply->find("welcome"), std::string::npos);
    } else {
      EXPECT_NE(reply->find("too_many"), std::string::npos);
    }
  }
  EXPECT_TRUE(clients.back()->WaitClosed(5s));
}

TEST(HubTest, ConnectionsNotYetWelcomedAreCappedPerAddressByShedding) {
  TestHub hub([](broker::BrokerConfig& c) { c.max_pending_per_address = 2; });
  RawClient a(hub.pki().ClientOptions("police"), hub.agent_port());
  RawClient b(hub.pki().ClientOptions("health"), hub.agent_port());
  ASSERT_TRUE(a.Connect());
  ASSERT_TRUE(b.Connect());
  // A third from the same address is let in, and the oldest that has not said hello is closed:
  // a peer that holds connections open cannot keep an agent that reconnects out.
  RawClient c(hub.pki().ClientOptions("education"), hub.agent_port());
  ASSERT_TRUE(c.Connect());
  EXPECT_TRUE(a.WaitClosed(5s));
  ASSERT_TRUE(b.SendText(RawClient::Hello("health", hub.dir() / "keys")));
  auto reply = b.Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("welcome"), std::string::npos);
  ASSERT_TRUE(c.SendText(RawClient::Hello("education", hub.dir() / "keys")));
  reply = c.Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("welcome"), std::string::npos);
}

TEST(HubTest, TotalConnectionsAreCappedOnceEveryOneIsWelcomed) {
  TestHub hub([](broker::BrokerConfig& c) { c.max_connections = 2; });
  RawClient a(hub.pki().ClientOptions("police"), hub.agent_port());
  RawClient b(hub.pki().ClientOptions("health"), hub.agent_port());
  ASSERT_TRUE(a.Connect());
  ASSERT_TRUE(b.Connect());
  ASSERT_TRUE(a.SendText(RawClient::Hello("police", hub.dir() / "keys")));
  ASSERT_TRUE(a.Read(5s).has_value());
  // One slot held by a welcomed agent, one by a connection that has not said hello: the
  // newcomer takes the latter's.
  RawClient c(hub.pki().ClientOptions("education"), hub.agent_port());
  ASSERT_TRUE(c.Connect());
  EXPECT_TRUE(b.WaitClosed(5s));
  ASSERT_TRUE(c.SendText(RawClient::Hello("education", hub.dir() / "keys")));
  ASSERT_TRUE(c.Read(5s).has_value());
  // Both slots held by welcomed agents: a newcomer is refused.
  RawClient d(hub.pki().ClientOptions("probation"), hub.agent_port());
  EXPECT_FALSE(d.Connect());
}

TEST(HubTest, NoLogLineHoldsKeysTokensOrPersonalData) {
  auto sink_stream = std::make_shared<std::ostringstream>();
  common::InitLogging({"test", common::LogLevel::kDebug, false, std::nullopt});
  common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink_stream));
  const std::string token(64, 'f');
  {
    TestHub hub([&](broker::BrokerConfig& c) {
      c.api_tokens.push_back({"pat", "practitioner",
                              common::HexEncode(crypto::Sha256(common::AsBytes(token))), "mash"});
    });
    for (const auto& a : kAgencies) hub.StartAgent(a, Fixture(a));
    for (const auto& a : kAgencies) ASSERT_TRUE(hub.WaitOnline(a, 10s));
    // Raised through the API with a bearer token, so the token passes through the broker too.
    nlohmann::json request = {
        {"subject",
         {{"given_names", "Amelia"},
          {"family_name", "Jones"},
          {"dob", "2015-03-09"},
          {"postcodes", {"LS6 2AB"}},
          {"identifiers", {{"nhs_number", "943 476 5919"}, {"upn", "H801200001001"}}}}},
        {"purpose", "child-protection-s47"},
        {"lawful_basis", "uk-gdpr-6-1-e"},
        {"consent", {{"state", "given"}, {"evidence_ref", "Seeking consent form CF-1"}}},
        {"urgency", "red"},
        {"level", 3},
        {"agencies", kAgencies}};
    const uint16_t api_port = OnIo(hub.io(), [&] { return hub.broker().api_port(); });
    const HttpReply raised =
        HttpsCall(hub.pki(), api_port, "POST", "/api/v1/checks", request.dump(), token);
    ASSERT_EQ(raised.status, 201) << raised.body.dump();
    const std::string id = raised.body["id"];
    ASSERT_EQ(WaitForAnswers(hub, id, 15s)["state"], "answered");
    EXPECT_EQ(HttpsCall(hub.pki(), api_port, "GET", "/api/v1/checks/" + id, "", token).status, 200);
    EXPECT_EQ(HttpsCall(hub.pki(), api_port, "GET", "/api/v1/checks/" + id, "", "bad").status, 401);
    // A refused hello and garbage, so the failure paths log too.
    RawClient client(hub.pki().ClientOptions("police"), hub.agent_port());
    ASSERT_TRUE(client.Connect());
    client.SendText(RawClient::Hello("health", hub.dir() / "keys"));
    client.WaitClosed(5s);

    // Every secret the processes held, in every encoding a careless log line might use.
    std::vector<std::string> forbidden = {
        "Amelia",        "Jones",   "2015-03-09",      "9434765919", "943 476 5919",
        "H801200001001", "LS6 2AB", "Seeking consent", token,        "domestic incident"};
    const auto keys = hub.dir() / "keys";
    for (const auto& entry : std::filesystem::directory_iterator(keys)) {
      if (entry.path().extension() != ".key") continue;
      const auto name = entry.path().filename().string();
      crypto::KeyKind kind =
          name.find(".sign.") != std::string::npos        ? crypto::KeyKind::kSigningSecret
          : name.find(".enc.") != std::string::npos       ? crypto::KeyKind::kEncryptionSecret
          : name.find(".pseudonym.") != std::string::npos ? crypto::KeyKind::kPseudonymKey
                                                          : crypto::KeyKind::kDatabaseKey;
      auto secret = crypto::ReadKeyFile(entry.path(), kind);
      ASSERT_TRUE(secret.ok()) << name;
      forbidden.push_back(common::Base64Encode(secret->span()));
      forbidden.push_back(common::HexEncode(secret->span()));
    }
    spdlog::default_logger()->flush();
    const std::string logs = sink_stream->str();
    ASSERT_NE(logs.find("answer.received"), std::string::npos);
    ASSERT_NE(logs.find("agent.identity_mismatch"), std::string::npos);
    for (const auto& f : forbidden) {
      EXPECT_EQ(logs.find(f), std::string::npos) << "log holds " << f.substr(0, 8) << "...";
    }
    // Every line is one JSON object.
    std::istringstream lines(logs);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_TRUE(nlohmann::json::accept(line)) << line;
    }
  }
  common::InitLogging({"test", common::LogLevel::kWarn, true, std::nullopt});
}

}  // namespace
}  // namespace mash::testing
