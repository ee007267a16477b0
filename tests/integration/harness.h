// In-process hub for integration tests: a real broker (TLS, SQLCipher, keys) on its own
// io_context thread bound to 127.0.0.1:0, real agents on theirs, and raw clients that can
// misbehave. Everything is made in a temporary folder and removed afterwards.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mash/agent/agent_ops.h"
#include "mash/agent/channel.h"
#include "mash/agent/config.h"
#include "mash/agent/responder.h"
#include "mash/audit/event.h"
#include "mash/broker/broker.h"
#include "mash/common/clock.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mash::testing {

inline const std::vector<std::string> kAgencies = {"police",    "social-care", "health",
                                                   "education", "probation",   "housing"};

// The example records of `agency` (examples/records/<agency>.json).
inline std::filesystem::path Fixture(const std::string& agency) {
  return std::filesystem::path(MASH_SOURCE_DIR) / "examples" / "records" / (agency + ".json");
}

// Runs `fn` on `io`'s thread and returns its result.
template <typename Fn>
auto OnIo(boost::asio::io_context& io, Fn fn) -> decltype(fn()) {
  std::packaged_task<decltype(fn())()> task(std::move(fn));
  auto fut = task.get_future();
  boost::asio::post(io, [&task] { task(); });
  return fut.get();
}

// A consented child-protection (s47) check about the example fixtures' child (Amelia Jones,
// NHS 943 476 5919), raised to `agencies` at `urgency` and `level`.
inline broker::RaiseRequest ConsentedCheck(std::vector<std::string> agencies,
                                           std::string urgency = "amber", int level = 2) {
  broker::RaiseRequest r;
  r.subject.given_names = "Amelia";
  r.subject.family_name = "Jones";
  r.subject.dob = "2015-03-09";
  r.subject.identifiers = {{"nhs_number", "943 476 5919"}};
  r.purpose = "child-protection-s47";
  r.lawful_basis = "uk-gdpr-6-1-e";
  r.consent_state = "given";
  r.evidence_ref = "consent form CF-2026-0042";
  r.urgency = std::move(urgency);
  r.level = level;
  r.agencies = std::move(agencies);
  return r;
}

// The body of POST /api/v1/checks for a consented child-protection (s47) check about the example
// fixtures' child (Amelia Jones, NHS 943 476 5919), raised to `agencies` at amber.
nlohmann::json ConsentedCheckBody(const std::vector<std::string>& agencies);

class TestHub {
 public:
  // Makes the PKI and keys, and starts a broker. `tune` may adjust the config first.
  explicit TestHub(std::function<void(broker::BrokerConfig&)> tune = {});
  // As above, with the broker and the agents it starts reading `broker_clock` (which must
  // outlive the hub) instead of the system clock: for deadlines across hours or days, on a hub
  // whose machines agree on the time.
  TestHub(std::function<void(broker::BrokerConfig&)> tune, const common::Clock* broker_clock);
  ~TestHub();

  broker::BrokerConfig& config() { return config_; }
  TestPki& pki() { return *pki_; }
  const TempDir& dir() const { return dir_; }
  uint16_t agent_port() const { return agent_port_; }
  boost::asio::io_context& io() { return io_; }
  broker::Broker& broker() { return *broker_; }

  // Starts a real agent for `agency` (keys made by the constructor) answering from `fixture`.
  // `tune` may change the agent's config and TLS options first (wrong pins, wrong keys).
  void StartAgent(const std::string& agency, const std::filesystem::path& fixture,
                  std::function<void(agent::AgentConfig&, crypto::TlsOptions&)> tune = {});
  void StopAgents();
  // The port of `agency`'s ops listener (0 when its config had no [ops] listen), and the
  // registry its metrics go to (throws for an agency not started).
  uint16_t agent_ops_port(const std::string& agency) const;
  prometheus::Registry& agent_registry(const std::string& agency);
  // The channel of the `index`-th agent started (in StartAgent order) and its io_context: for
  // draining one as its main() would on SIGTERM.
  agent::Channel& AgentChannel(size_t index);
  boost::asio::io_context& AgentIo(size_t index);
  // Waits until `agency` is online at the hub (or the timeout passes).
  bool WaitOnline(const std::string& agency, std::chrono::milliseconds timeout);
  // Stops the broker; StartBroker() brings a new one up on the same ports and database.
  void StopBroker();
  void StartBroker();

  // Raises a check as `user` with `role` on the broker's thread and waits for the answer
  // (the check_raised event committed). Returns the check id.
  Result<std::string> Raise(const broker::RaiseRequest& request,
                            const std::string& user = "test.practitioner",
                            const std::string& role = "practitioner");

  agent::AgentConfig AgentConfigFor(const std::string& agency,
                                    const std::filesystem::path& fixture) const;

 private:
  struct RunningAgent;
  void Init(std::function<void(broker::BrokerConfig&)> tune);
  TempDir dir_{"mash-hub"};
  std::unique_ptr<TestPki> pki_;
  broker::BrokerConfig config_;
  common::SystemClock clock_;
  const common::Clock* broker_clock_ = &clock_;
  common::SystemRandom random_;
  boost::asio::io_context io_;
  std::unique_ptr<broker::Broker> broker_;
  std::thread thread_;
  uint16_t agent_port_ = 0;
  std::vector<std::unique_ptr<RunningAgent>> agents_;
};

// The check as the API shows it, read on the broker's thread.
inline nlohmann::json PeekCheck(TestHub& hub, const std::string& id) {
  return OnIo(hub.io(), [&] { return *hub.broker().checks().Peek(id); });
}

// The broker's audit events (every one, or those of check `check_id`), read through a second
// connection to its audit database once what the io thread was doing has been appended.
std::vector<audit::AuditEvent> AuditEventsOf(TestHub& hub, const std::string& check_id = "");

struct HttpReply {
  int status = 0;
  nlohmann::json body;
};

// One HTTPS request to the broker's API on 127.0.0.1:`port`, verifying the hub CA and the name
// "localhost". `token` empty sends no Authorization header. A broker that answers before reading
// the whole body (413) is handled: the write error is ignored and the answer read.
HttpReply HttpsCall(const TestPki& pki, uint16_t port, const std::string& method,
                    const std::string& target, const std::string& body = "",
                    const std::string& token = "",
                    const std::string& content_type = "application/json");

// One HTTPS exchange with the broker's API listener, as HttpsCall, returning the whole response
// (headers and raw body: the web console). Host is "localhost" unless `request` sets it.
boost::beast::http::response<boost::beast::http::string_body> HttpsExchange(
    const TestPki& pki, uint16_t port,
    boost::beast::http::request<boost::beast::http::string_body> request);

// A hand-driven agent-side connection, for the cases a real agent never produces.
class RawClient {
 public:
  using Ws = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;
  RawClient(const crypto::TlsOptions& tls, uint16_t port);

  // TCP + TLS + WebSocket upgrade. false on any failure.
  bool Connect(const std::string& path = "/agent/v1");
  // TCP only (for stalls).
  bool ConnectTcpOnly();
  bool SendText(const std::string& text);
  bool SendBinary(const std::string& data);
  // Writes raw bytes under the WebSocket layer (hand-made frame headers).
  bool SendRaw(const std::string& bytes);
  // Reads one message; nullopt when the connection ended or `timeout` passed (timed_out set).
  std::optional<std::string> Read(std::chrono::milliseconds timeout, bool* timed_out = nullptr);
  // Reads until the connection ends; true if it ended within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout);
  // A hello for `agency` with the fingerprints of the keys in `keys_dir`.
  static std::string Hello(const std::string& agency, const std::filesystem::path& keys_dir,
                           const std::string& keys_of = "");

 private:
  boost::asio::io_context io_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<Ws> ws_;
  uint16_t port_;
};

// Log lines captured in memory, readable while the broker and agents still log.
class CapturedLines final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

// The lines of `text` that log `event` and mention `id` (any line of the event when empty).
inline int CountLines(const std::string& text, const std::string& event,
                      const std::string& id = "") {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"event\":\"" + event + "\"") != std::string::npos &&
        (id.empty() || line.find(id) != std::string::npos))
      ++n;
  }
  return n;
}

}  // namespace mash::testing
