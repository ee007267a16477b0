// Issue 8, observability: the ops listeners of a real broker and real agents over loopback.
// /metrics moves with a real check through the broker and six agents and holds nothing of the
// check's subject; /readyz follows the agent's connection, the broker's draining and its audit
// log's health; one check can be followed through the broker's and the agents' log lines by its
// id.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

#include "harness.h"
#include "mash/common/log.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

struct PlainReply {
  unsigned status = 0;
  std::string body;
};

// One plain HTTP GET to an ops listener on 127.0.0.1:`port`.
PlainReply OpsGet(uint16_t port, const std::string& target) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(8 << 20);
  http::read(stream, buffer, parser);
  return {parser.get().result_int(), parser.get().body()};
}

// The sum of every sample of `name` whose labels contain each of `labels` ("agency=\"police\"").
double Sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t end = line.find_first_of("{ ");
    if (line.substr(0, end) != name) continue;
    const size_t space = line.rfind(' ');
    const std::string label_text = line.substr(end, space - end);
    bool all = true;
    for (const auto& l : labels) all = all && label_text.find(l) != std::string::npos;
    if (all) sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

void WithOps(broker::BrokerConfig& c) { c.ops_listen = ops::Endpoint{"127.0.0.1", 0}; }
void AgentWithOps(agent::AgentConfig& c, crypto::TlsOptions&) {
  c.ops_listen = ops::Endpoint{"127.0.0.1", 0};
}

nlohmann::json WaitWhileDispatched(TestHub& hub, const std::string& id) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  nlohmann::json shown;
  while (std::chrono::steady_clock::now() < until) {
    shown = PeekCheck(hub, id);
    if (shown["state"] != "dispatched") break;
    std::this_thread::sleep_for(20ms);
  }
  return shown;
}

bool WaitForStatus(uint16_t port, const std::string& target, unsigned status) {
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < until) {
    if (OpsGet(port, target).status == status) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(ObservabilityTest, MetricsFollowARealCheckThroughBrokerAndAgents) {
  TestHub hub(WithOps);
  const uint16_t broker_ops = hub.broker().ops_port();
  ASSERT_NE(broker_ops, 0);
  for (const auto& a : kAgencies) hub.StartAgent(a, Fixture(a), AgentWithOps);
  for (const auto& a : kAgencies) ASSERT_TRUE(hub.WaitOnline(a, 10s)) << a;

  const std::string before = OpsGet(broker_ops, "/metrics").body;
  EXPECT_EQ(Sample(before, "mash_broker_checks_raised_total"), 0);
  EXPECT_EQ(Sample(before, "mash_broker_agent_connected"), 6) << before;
  EXPECT_EQ(Sample(before, "mash_broker_agent_connected", {"agency=\"police\""}), 1);
  const double appends_before = Sample(before, "mash_broker_audit_appends_total");
  const double batches_before = Sample(before, "mash_broker_audit_fsync_batches_total");

  auto id = hub.Raise(ConsentedCheck(kAgencies));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const auto shown = WaitWhileDispatched(hub, *id);
  ASSERT_EQ(shown["state"], "answered") << shown.dump(2);
  hub.broker().audit().Flush();

  const auto reply = OpsGet(broker_ops, "/metrics");
  ASSERT_EQ(reply.status, 200u);
  const std::string& after = reply.body;
  EXPECT_EQ(Sample(after, "mash_broker_checks_raised_total"), 1);
  EXPECT_EQ(Sample(after, "mash_broker_checks", {"state=\"answered\""}), 1) << after;
  EXPECT_EQ(Sample(after, "mash_broker_checks", {"state=\"dispatched\""}), 0);
  EXPECT_EQ(Sample(after, "mash_broker_answers_received_total"), 6);
  for (const auto& a : kAgencies) {
    EXPECT_EQ(Sample(after, "mash_broker_answers_received_total", {"agency=\"" + a + "\""}), 1)
        << a;
    EXPECT_EQ(
        Sample(after, "mash_broker_answer_round_trip_seconds_count", {"agency=\"" + a + "\""}), 1)
        << a;
  }
  // The fixtures hold the child: at least one agency confirms the match.
  EXPECT_GE(Sample(after, "mash_broker_answers_received_total", {"outcome=\"confirmed\""}), 1)
      << after;
  EXPECT_EQ(Sample(after, "mash_broker_check_compiled_seconds_count"), 1);
  EXPECT_GT(Sample(after, "mash_broker_check_compiled_seconds_sum"), 0);
  // check_raised, six query_sent, and per answer its category events and answer_received.
  EXPECT_GE(Sample(after, "mash_broker_audit_appends_total") - appends_before, 13);
  EXPECT_GT(Sample(after, "mash_broker_audit_fsync_batches_total"), batches_before);
  EXPECT_EQ(Sample(after, "mash_broker_audit_batch_events_count"),
            Sample(after, "mash_broker_audit_fsync_batches_total"));
  EXPECT_EQ(Sample(after, "mash_broker_audit_commit_failures_total"), 0);
  const double now = static_cast<double>(std::time(nullptr));
  for (const char* role : {"agent_listener", "api_listener", "hub_ca"}) {
    const double expiry = Sample(after, "mash_broker_certificate_expiry_timestamp_seconds",
                                 {std::string("certificate=\"") + role + "\""});
    EXPECT_GT(expiry, now) << role;
    EXPECT_LT(expiry, now + 20.0 * 365 * 86400) << role;
  }

  std::vector<std::string> texts = {after};
  for (const auto& a : kAgencies) {
    const uint16_t port = hub.agent_ops_port(a);
    ASSERT_NE(port, 0) << a;
    const std::string text = OpsGet(port, "/metrics").body;
    EXPECT_EQ(Sample(text, "mash_agent_connected"), 1) << a;
    EXPECT_EQ(Sample(text, "mash_agent_queries_total"), 1) << a << "\n" << text;
    EXPECT_EQ(Sample(text, "mash_agent_answer_seconds_count"), 1) << a;
    EXPECT_EQ(Sample(text, "mash_agent_disclosure_log_appends_total"), 1) << a;
    EXPECT_EQ(Sample(text, "mash_agent_queries_total", {"outcome=\"rejected\""}), 0) << a;
    EXPECT_GT(
        Sample(text, "mash_agent_certificate_expiry_timestamp_seconds", {"certificate=\"client\""}),
        now)
        << a;
    texts.push_back(text);
  }
  // The same registry the listener serves is what a test (or an embedding) reads directly.
  bool found = false;
  for (const auto& family : hub.agent_registry("police").Collect()) {
    if (family.name == "mash_agent_disclosure_log_appends_total") {
      found = true;
      EXPECT_EQ(family.metric.at(0).counter.value, 1);
    }
  }
  EXPECT_TRUE(found);

  // Nothing of the check's subject, its evidence or its id is in any metrics text.
  for (const auto& text : texts) {
    for (const std::string& secret :
         {std::string("Amelia"), std::string("Jones"), std::string("2015-03-09"),
          std::string("943 476 5919"), std::string("9434765919"), std::string("CF-2026-0042"),
          std::string("test.practitioner"), *id}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
  }
}

TEST(ObservabilityTest, AgentIsNotReadyUntilItHoldsAVerifiedConnection) {
  TestHub hub(WithOps);
  hub.StopBroker();  // the agent starts with no hub to talk to
  hub.StartAgent("police", Fixture("police"), AgentWithOps);
  const uint16_t port = hub.agent_ops_port("police");
  ASSERT_NE(port, 0);
  EXPECT_EQ(OpsGet(port, "/healthz").status, 200u);
  const auto not_ready = OpsGet(port, "/readyz");
  EXPECT_EQ(not_ready.status, 503u);
  EXPECT_EQ(nlohmann::json::parse(not_ready.body)["failing"],
            nlohmann::json::array({"not_connected"}));
  EXPECT_NE(OpsGet(port, "/metrics").body.find("mash_agent_connected 0"), std::string::npos);

  hub.StartBroker();
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  EXPECT_TRUE(WaitForStatus(port, "/readyz", 200));
  EXPECT_EQ(nlohmann::json::parse(OpsGet(port, "/readyz").body), (nlohmann::json{{"ready", true}}));

  // And back to 503 when the hub goes away.
  hub.StopBroker();
  EXPECT_TRUE(WaitForStatus(port, "/readyz", 503));
}

TEST(ObservabilityTest, BrokerReadinessFollowsDraining) {
  TestHub hub(WithOps);
  const uint16_t port = hub.broker().ops_port();
  EXPECT_EQ(OpsGet(port, "/healthz").status, 200u);
  EXPECT_EQ(OpsGet(port, "/readyz").status, 200u);
  // SIGTERM's drain, with nothing in flight: drained at once, and the listener still answers
  // (main() stops the broker after the drained callback).
  bool drained = false;
  OnIo(hub.io(), [&] {
    hub.broker().BeginDrain([&] { drained = true; });
    return 0;
  });
  const auto draining = OpsGet(port, "/readyz");
  EXPECT_EQ(draining.status, 503u);
  EXPECT_EQ(nlohmann::json::parse(draining.body)["failing"], nlohmann::json::array({"draining"}));
  EXPECT_TRUE(OnIo(hub.io(), [&] { return drained; }));
  EXPECT_EQ(OpsGet(port, "/healthz").status, 200u);
}

audit::AuditEvent Filler() {
  audit::AuditEvent e;
  e.person = "filler";
  e.role = "system";
  e.organisation = "hub";
  e.type = audit::EventType::kRequestRefused;
  e.outcome = audit::Outcome::kRefused;
  e.detail = "filler";
  return e;
}

TEST(ObservabilityTest, BrokerIsNotReadyWhileItsAuditLogCannotCommit) {
  TestHub hub([](broker::BrokerConfig& c) {
    WithOps(c);
    c.audit.max_size_mb = 1;
  });
  const uint16_t port = hub.broker().ops_port();
  ASSERT_EQ(OpsGet(port, "/readyz").status, 200u);
  auto& log = hub.broker().audit();
  bool full = false;
  for (int i = 0; i < 200000 && !full; i += 200) {
    std::atomic<int> failed{0};
    for (int j = 0; j < 200; ++j) {
      log.Append(Filler(), [&failed](Result<uint64_t> r) {
        if (!r.ok()) ++failed;
      });
    }
    log.Flush();
    full = failed > 0;
  }
  ASSERT_TRUE(full) << "the audit log never filled up";
  const auto reply = OpsGet(port, "/readyz");
  EXPECT_EQ(reply.status, 503u);
  // The size ceiling (SQLite's max_page_count) reads as a full database: storage.full too.
  EXPECT_EQ(nlohmann::json::parse(reply.body)["failing"],
            nlohmann::json::array({"audit_log_failing", "storage_full"}));
  EXPECT_GE(Sample(OpsGet(port, "/metrics").body, "mash_broker_audit_commit_failures_total"), 1);
}

TEST(ObservabilityTest, OneCheckCanBeFollowedThroughBrokerAndAgentLogsByItsId) {
  auto lines = std::make_shared<CapturedLines>();
  common::InitLogging({"test", common::LogLevel::kDebug, false, std::nullopt});
  common::AddLogSink(lines);
  std::string id;
  {
    TestHub hub;
    for (const auto& a : kAgencies) hub.StartAgent(a, Fixture(a));
    for (const auto& a : kAgencies) ASSERT_TRUE(hub.WaitOnline(a, 10s)) << a;
    auto raised = hub.Raise(ConsentedCheck(kAgencies));
    ASSERT_TRUE(raised.ok()) << raised.status().ToString();
    id = *raised;
    ASSERT_EQ(WaitWhileDispatched(hub, id)["state"], "answered");
    // The receipts leave once the compiled check is on disk: wait for the six agents to log them.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (CountLines(lines->Text(), "receipt.accepted", id) < 6 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    hub.StopAgents();
  }
  common::InitLogging({});
  std::map<std::string, int> by_event;
  std::istringstream in(lines->Text());
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string event = j["event"];
    // Every line about this check names it in the same field.
    if (line.find(id) != std::string::npos) {
      EXPECT_EQ(j.value("check", ""), id) << line;
      ++by_event[event];
    }
    for (const char* secret : {"Amelia", "Jones", "2015-03-09", "943 476 5919", "9434765919"}) {
      EXPECT_EQ(line.find(secret), std::string::npos) << line;
    }
  }
  // The broker raised it and sent six queries; each agent answered (agent side, with the id it
  // received); the broker received six answers; each agent accepted its receipt.
  EXPECT_EQ(by_event["check.raised"], 1);
  EXPECT_EQ(by_event["query.sent"], 6);
  EXPECT_EQ(by_event["query.answered"], 6);
  EXPECT_EQ(by_event["answer.received"], 6);
  EXPECT_EQ(by_event["receipt.accepted"], 6);
}

}  // namespace
}  // namespace mash::testing
