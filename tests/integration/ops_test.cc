// The operations side end to end, with the real broker and real agents: the agent through an
// HTTP CONNECT proxy (a small real proxy written here with Boost.Asio/Beast that forwards bytes),
// `test-connection` step by step, `status` and `log` of an agent that answered, and a
// diagnostics bundle that must hold no secret and no personal data.
#include "mash/agent/ops.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <fstream>
#include <mutex>
#include <sstream>

#include "harness.h"
#include "mash/agent/dial.h"
#include "mash/agent/status.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/common/private_file.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

// ---- a real CONNECT proxy --------------------------------------------------------------------

class ConnectProxy {
 public:
  enum class Mode { kForward, kAuthRequired, kForbidden, kHang };

  // `expected_auth`: with kAuthRequired, the Proxy-Authorization value that opens the tunnel.
  explicit ConnectProxy(Mode mode, std::string expected_auth = "")
      : mode_(mode), expected_auth_(std::move(expected_auth)), acceptor_(io_) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ConnectProxy() {
    net::post(io_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      for (auto& w : sockets_) {
        if (auto s = w.lock()) s->close(ec);
      }
      hung_.clear();
      io_.stop();
    });
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int requests() const { return requests_; }
  int tunnels() const { return tunnels_; }
  std::string last_target() {
    std::lock_guard<std::mutex> l(mu_);
    return last_target_;
  }
  std::string last_auth() {
    std::lock_guard<std::mutex> l(mu_);
    return last_auth_;
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(ConnectProxy* p, tcp::socket s) : proxy(p), client(std::move(s)), upstream(p->io_) {}
    ConnectProxy* proxy;
    tcp::socket client;
    tcp::socket upstream;
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    http::response<http::empty_body> response;
    std::array<char, 16384> up_buf{};
    std::array<char, 16384> down_buf{};
  };

  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      auto session = std::make_shared<Session>(this, std::move(s));
      sockets_.push_back(std::shared_ptr<tcp::socket>(session, &session->client));
      sockets_.push_back(std::shared_ptr<tcp::socket>(session, &session->upstream));
      ReadRequest(session);
      Accept();
    });
  }

  void ReadRequest(const std::shared_ptr<Session>& s) {
    http::async_read_header(s->client, s->buffer, s->parser,
                            [this, s](beast::error_code ec, size_t) {
                              if (ec) return;
                              OnRequest(s);
                            });
  }

  void Answer(const std::shared_ptr<Session>& s, http::status status, bool then_forward) {
    s->response = {status, 11};
    if (status == http::status::proxy_authentication_required) {
      s->response.set(http::field::proxy_authenticate, "Basic realm=\"test\"");
    }
    if (!then_forward) s->response.set(http::field::connection, "close");
    s->response.content_length(0);
    http::async_write(s->client, s->response,
                      [this, s, then_forward](beast::error_code ec, size_t) {
                        if (ec || !then_forward) {
                          beast::error_code ignored;
                          s->client.shutdown(tcp::socket::shutdown_both, ignored);
                          return;
                        }
                        ++tunnels_;
                        Pump(s, s->client, s->upstream, s->up_buf);
                        Pump(s, s->upstream, s->client, s->down_buf);
                      });
  }

  void OnRequest(const std::shared_ptr<Session>& s) {
    ++requests_;
    const auto& req = s->parser.get();
    {
      std::lock_guard<std::mutex> l(mu_);
      last_target_ = std::string(req.target());
      last_auth_ = std::string(req[http::field::proxy_authorization]);
    }
    if (req.method() != http::verb::connect) return Answer(s, http::status::bad_request, false);
    switch (mode_) {
      case Mode::kHang:
        hung_.push_back(s);  // read and never answered
        return;
      case Mode::kForbidden:
        return Answer(s, http::status::forbidden, false);
      case Mode::kAuthRequired:
        if (std::string(req[http::field::proxy_authorization]) != expected_auth_) {
          return Answer(s, http::status::proxy_authentication_required, false);
        }
        break;
      case Mode::kForward:
        break;
    }
    // Only the test's broker on this host: "localhost:PORT" goes to 127.0.0.1:PORT.
    const std::string target(req.target());
    const auto colon = target.rfind(':');
    const auto port = static_cast<uint16_t>(std::stoi(target.substr(colon + 1)));
    s->upstream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                              [this, s](beast::error_code ec) {
                                if (ec) return Answer(s, http::status::bad_gateway, false);
                                Answer(s, http::status::ok, true);
                              });
  }

  template <size_t N>
  void Pump(const std::shared_ptr<Session>& s, tcp::socket& from, tcp::socket& to,
            std::array<char, N>& buf) {
    from.async_read_some(
        net::buffer(buf), [this, s, &from, &to, &buf](beast::error_code ec, size_t n) {
          if (ec) {
            beast::error_code ignored;
            to.shutdown(tcp::socket::shutdown_send, ignored);
            return;
          }
          net::async_write(to, net::buffer(buf.data(), n),
                           [this, s, &from, &to, &buf](beast::error_code wec, size_t) {
                             if (wec) return;
                             Pump(s, from, to, buf);
                           });
        });
  }

  Mode mode_;
  std::string expected_auth_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::weak_ptr<tcp::socket>> sockets_;
  std::vector<std::shared_ptr<Session>> hung_;
  std::atomic<int> requests_{0};
  std::atomic<int> tunnels_{0};
  std::mutex mu_;
  std::string last_target_;
  std::string last_auth_;
};

// ---- an agent as `mash-agent run` builds it, with its agent.toml -------------------------------

std::string TomlString(const std::string& s) { return json(s).dump(); }

// Writes `c` as an agent.toml (absolute paths), as agency IT would.
std::filesystem::path WriteAgentToml(const agent::AgentConfig& c, const std::filesystem::path& p) {
  std::ostringstream o;
  o << "[agency]\nid = " << TomlString(c.agency_id) << "\nname = " << TomlString(c.agency_name)
    << "\ntype = " << TomlString(c.agency_type) << "\n\n";
  if (c.log.file) o << "[log]\nfile = " << TomlString(c.log.file->string()) << "\n\n";
  o << "[broker]\nurl = "
    << TomlString("wss://" + c.broker.host + ":" + std::to_string(c.broker.port) + c.broker.path)
    << "\nhub_id = " << TomlString(c.hub_id)
    << "\nsign_public_key = " << TomlString(c.broker_sign_public_key.string())
    << "\nenc_public_key = " << TomlString(c.broker_enc_public_key.string()) << "\n";
  if (c.proxy) {
    o << "proxy = " << TomlString("http://" + c.proxy->host + ":" + std::to_string(c.proxy->port))
      << "\n";
  }
  if (!c.proxy_credentials.empty()) {
    o << "proxy_credentials = " << TomlString(c.proxy_credentials.string()) << "\n";
  }
  o << "\n[tls]\nca = " << TomlString(c.tls.ca_file.string()) << "\ncrls = [";
  for (size_t i = 0; i < c.tls.crl_files.size(); ++i) {
    o << (i ? ", " : "") << TomlString(c.tls.crl_files[i].string());
  }
  o << "]\ncert = " << TomlString(c.tls.cert_chain_file.string())
    << "\nkey = " << TomlString(c.tls.key_file.string())
    << "\nca_pin = " << TomlString(c.tls.ca_pin.value_or("")) << "\n\n";
  o << "[keys]\nsign = " << TomlString(c.sign_key.string())
    << "\nenc = " << TomlString(c.enc_key.string()) << "\n\n";
  o << "[storage]\ndatabase = " << TomlString(c.database.string())
    << "\nkey = " << TomlString(c.database_key.string()) << "\n\n";
  o << "[records]\nfixture = " << TomlString(c.records_fixture.string()) << "\n\n";
  o << "[policy]\nfile = " << TomlString(c.policy.file.string()) << "\n\n";
  o << "[audit]\nlog_public_key = " << TomlString(c.audit_log_public_key.string()) << "\n\n";
  o << "[connection]\nhandshake_timeout_s = " << c.handshake_timeout.count()
    << "\nbackoff_initial_ms = " << c.backoff_initial.count()
    << "\nbackoff_max_ms = " << c.backoff_max.count() << "\n";
  std::ofstream(p) << o.str();
  return p;
}

// Responder, channel and live state on their own thread, wired as main.cc's Run does.
class RunningAgent {
 public:
  RunningAgent(const agent::AgentConfig& c, common::RandomSource& random) {
    auto responder = agent::Responder::Create(c, clock_, random);
    if (!responder.ok()) throw std::runtime_error("responder: " + responder.status().ToString());
    responder_ = std::move(*responder);
    auto ctx = crypto::MakeTlsContext(c.tls);
    if (!ctx.ok()) throw std::runtime_error("tls: " + ctx.status().ToString());
    auto dial = agent::DialOptionsFor(c);
    if (!dial.ok()) throw std::runtime_error("dial: " + dial.status().ToString());
    agent::ChannelOptions o;
    o.broker = c.broker;
    o.proxy = dial->proxy;
    o.proxy_authorization = dial->proxy_authorization;
    o.handshake_timeout = c.handshake_timeout;
    o.backoff_initial = c.backoff_initial;
    o.backoff_max = c.backoff_max;
    channel_ = std::make_shared<agent::Channel>(io_, *ctx, o, responder_.get(), random);
    auto status = agent::AgentStatusStore::Open(c, clock_);
    if (!status.ok()) throw std::runtime_error("status: " + status.status().ToString());
    status_ = std::move(*status);
    status_->RecordStart(::getpid(), responder_->policies().enforced().version, "");
    channel_->set_observer(status_.get());
    net::post(io_, [this] { channel_->Start(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningAgent() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    net::post(io_, [this] { channel_->Stop(); });
    thread_.join();
    status_->RecordStop();
  }
  agent::Channel& channel() { return *channel_; }

 private:
  common::SystemClock clock_;
  net::io_context io_;
  std::unique_ptr<agent::Responder> responder_;
  std::shared_ptr<agent::Channel> channel_;
  std::unique_ptr<agent::AgentStatusStore> status_;
  std::thread thread_;
};

class LogLines {
 public:
  LogLines() {
    common::InitLogging({"test", common::LogLevel::kDebug, false, std::nullopt});
    common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
  }
  ~LogLines() { common::InitLogging({"test", common::LogLevel::kInfo, false, std::nullopt}); }
  std::string Text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }
  // Waits until a line holds every one of `parts`; returns that line or "".
  std::string WaitFor(const std::vector<std::string>& parts, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      std::istringstream lines(Text());
      for (std::string l; std::getline(lines, l);) {
        bool all = true;
        for (const auto& p : parts) all = all && l.find(p) != std::string::npos;
        if (all) return l;
      }
      std::this_thread::sleep_for(20ms);
    }
    return "";
  }

 private:
  std::ostringstream stream_;
};

broker::RaiseRequest PoliceCheck() {
  broker::RaiseRequest r = ConsentedCheck({"police"}, "red", 2);
  r.subject.postcodes = {"LS6 2AB"};
  r.subject.identifiers["upn"] = "H801200001001";
  return r;
}

// The police part of the check once it has an answer (or the last view after `limit`).
json WaitForPoliceAnswer(TestHub& hub, const std::string& id, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  json part;
  while (std::chrono::steady_clock::now() < until) {
    const json shown = OnIo(hub.io(), [&] { return *hub.broker().checks().Peek(id); });
    for (const auto& p : shown["agencies"]) {
      if (p["agency"] == "police") part = p;
    }
    if (shown["state"] != "dispatched") break;
    std::this_thread::sleep_for(20ms);
  }
  return part;
}

class OpsTest : public ::testing::Test {
 protected:
  agent::AgentConfig PoliceConfig() {
    agent::AgentConfig c = hub_.AgentConfigFor("police", Fixture("police"));
    c.handshake_timeout = 2s;
    return c;
  }
  std::filesystem::path WriteCredentials(const std::string& text) {
    const auto p = hub_.dir() / "keys" / "police.proxy.cred";
    EXPECT_TRUE(common::WritePrivateFile(p, text, true).ok());
    return p;
  }
  const std::string& Name(const agent::ConnectionTest& t, size_t i) { return t.steps.at(i).name; }
  static std::string Steps(const agent::ConnectionTest& t) { return t.Format(); }

  TestHub hub_;
  common::SystemRandom random_;
};

// ---- the proxy tunnel ------------------------------------------------------------------------

TEST_F(OpsTest, AgentConnectsAndAnswersThroughAnAuthenticatingProxy) {
  LogLines logs;
  const std::string password = "pr0xy-Pa55-7f3c";
  const std::string auth =
      "Basic " + common::Base64Encode(common::AsBytes("agent-police:" + password));
  ConnectProxy proxy(ConnectProxy::Mode::kAuthRequired, auth);
  agent::AgentConfig c = PoliceConfig();
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  c.proxy_credentials = WriteCredentials("agent-police:" + password + "\n");
  RunningAgent agent(c, random_);
  ASSERT_TRUE(hub_.WaitOnline("police", 10s)) << logs.Text();
  EXPECT_EQ(proxy.last_target(), "localhost:" + std::to_string(hub_.agent_port()));
  EXPECT_EQ(proxy.last_auth(), auth);
  EXPECT_GE(proxy.tunnels(), 1);

  auto id = hub_.Raise(PoliceCheck());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const json part = WaitForPoliceAnswer(hub_, *id, 20s);
  // Answered; the police policy routes one category to its custodian, which the part shows.
  EXPECT_EQ(part["state"], "awaiting_agency_review") << part.dump(2);
  EXPECT_EQ(part["answer"]["held"], true) << part.dump(2);
  // The tunnel carried TLS end to end: the broker saw the agency's own certificate.
  EXPECT_NE(logs.WaitFor({"\"event\":\"agent.connected\"", "\"agency\":\"police\""}, 1s), "");
  agent.Stop();
  const std::string text = logs.Text();
  EXPECT_EQ(text.find(password), std::string::npos);
  EXPECT_EQ(text.find(common::Base64Encode(common::AsBytes("agent-police:" + password))),
            std::string::npos);
}

TEST_F(OpsTest, ProxyAskingForAuthenticationIsLoggedWithoutTheCredentials) {
  LogLines logs;
  ConnectProxy proxy(ConnectProxy::Mode::kAuthRequired, "Basic c29tZW9uZTplbHNl");
  agent::AgentConfig c = PoliceConfig();
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  c.proxy_credentials = WriteCredentials("agent-police:wrong-Secret-991\n");
  RunningAgent agent(c, random_);
  const std::string line =
      logs.WaitFor({"broker.connection_failed", "\"step\":\"proxy\"", "407"}, 10s);
  EXPECT_NE(line, "") << logs.Text();
  EXPECT_NE(line.find("authentication"), std::string::npos) << line;
  EXPECT_FALSE(hub_.WaitOnline("police", 300ms));
  agent.Stop();
  EXPECT_EQ(logs.Text().find("wrong-Secret-991"), std::string::npos);
  EXPECT_GE(proxy.requests(), 1);
}

TEST_F(OpsTest, ProxyRefusingTheTunnelIsLoggedAsRefused) {
  LogLines logs;
  ConnectProxy proxy(ConnectProxy::Mode::kForbidden);
  agent::AgentConfig c = PoliceConfig();
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  RunningAgent agent(c, random_);
  const std::string line =
      logs.WaitFor({"broker.connection_failed", "\"step\":\"proxy\"", "403"}, 10s);
  EXPECT_NE(line, "") << logs.Text();
  EXPECT_NE(line.find("refused"), std::string::npos) << line;
  EXPECT_FALSE(hub_.WaitOnline("police", 300ms));
}

TEST_F(OpsTest, HangingProxyHitsTheHandshakeDeadline) {
  LogLines logs;
  ConnectProxy proxy(ConnectProxy::Mode::kHang);
  agent::AgentConfig c = PoliceConfig();
  c.handshake_timeout = 1s;
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  const auto start = std::chrono::steady_clock::now();
  RunningAgent agent(c, random_);
  const std::string line =
      logs.WaitFor({"broker.connection_failed", "\"step\":\"proxy\"", "timeout"}, 10s);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(line, "") << logs.Text();
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
  EXPECT_GE(proxy.requests(), 1);
}

// ---- test-connection -------------------------------------------------------------------------

TEST_F(OpsTest, TestConnectionPassesEveryStepAgainstTheRealBroker) {
  const auto path = WriteAgentToml(PoliceConfig(), hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitOk) << Steps(t);
  std::vector<std::string> names;
  for (const auto& s : t.steps) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"config", "dns", "tcp", "tls", "mtls", "welcome"}))
      << Steps(t);
  for (const auto& s : t.steps) EXPECT_TRUE(s.ok) << Steps(t);
  EXPECT_NE(t.Format().find("ok   welcome"), std::string::npos) << Steps(t);
  EXPECT_EQ(t.ToJson()["ok"], true);
}

TEST_F(OpsTest, TestConnectionGoesThroughTheProxy) {
  ConnectProxy proxy(ConnectProxy::Mode::kForward);
  agent::AgentConfig c = PoliceConfig();
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitOk) << Steps(t);
  ASSERT_EQ(t.steps.size(), 7u) << Steps(t);
  EXPECT_EQ(Name(t, 3), "proxy");
  EXPECT_EQ(proxy.tunnels(), 1);
}

TEST_F(OpsTest, TestConnectionStopsAtAProxyThatWantsCredentials) {
  ConnectProxy proxy(ConnectProxy::Mode::kAuthRequired, "Basic eDp5");
  agent::AgentConfig c = PoliceConfig();
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitConnection);
  ASSERT_FALSE(t.steps.empty());
  const auto& last = t.steps.back();
  EXPECT_EQ(last.name, "proxy") << Steps(t);
  EXPECT_FALSE(last.ok);
  EXPECT_NE(last.hint.find("broker.proxy_credentials"), std::string::npos) << Steps(t);
}

TEST_F(OpsTest, TestConnectionNamesTheWrongPinAtTheTlsStep) {
  agent::AgentConfig c = PoliceConfig();
  c.tls.ca_pin = "sha256:" + std::string(64, '0');
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitConnection);
  ASSERT_EQ(t.steps.size(), 4u) << Steps(t);
  EXPECT_EQ(Name(t, 3), "tls");
  EXPECT_FALSE(t.steps[3].ok);
  EXPECT_NE(t.steps[3].hint.find("tls.ca_pin"), std::string::npos) << Steps(t);
  EXPECT_NE(t.Format().find("FAIL tls"), std::string::npos);
}

TEST_F(OpsTest, TestConnectionNamesARevokedClientCertificateAtTheMtlsStep) {
  hub_.StopBroker();
  ASSERT_TRUE(hub_.pki().Revoke("agency-police"));
  hub_.StartBroker();
  const auto path = WriteAgentToml(PoliceConfig(), hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitConnection);
  ASSERT_EQ(t.steps.size(), 5u) << Steps(t);
  EXPECT_EQ(Name(t, 4), "mtls");
  EXPECT_FALSE(t.steps[4].ok);
  EXPECT_NE(t.steps[4].hint.find("client certificate"), std::string::npos) << Steps(t);
}

TEST_F(OpsTest, TestConnectionChecksTheWelcomeAgainstThePinnedKeys) {
  agent::AgentConfig c = PoliceConfig();
  // Pin the wrong hub signing key: the police key stands in for an impostor's.
  c.broker_sign_public_key = hub_.dir() / "keys" / "police.sign.pub";
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitConnection);
  ASSERT_EQ(t.steps.size(), 6u) << Steps(t);
  EXPECT_EQ(Name(t, 5), "welcome");
  EXPECT_NE(t.steps[5].detail.find("not the pinned ones"), std::string::npos) << Steps(t);
}

TEST_F(OpsTest, TestConnectionFailsAtTcpWhenNothingListens) {
  agent::AgentConfig c = PoliceConfig();
  {
    // A port that was just free.
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    c.broker.port = a.local_endpoint().port();
  }
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  const agent::ConnectionTest t = agent::TestConnection(path, 20s);
  EXPECT_EQ(t.exit_code, agent::kExitConnection);
  ASSERT_EQ(t.steps.size(), 3u) << Steps(t);
  EXPECT_EQ(Name(t, 2), "tcp");
}

TEST_F(OpsTest, TestConnectionReportsABrokenConfigAsConfig) {
  const auto path = hub_.dir() / "broken.toml";
  std::ofstream(path) << "[agency]\nid = \"Police!\"\n";
  const agent::ConnectionTest t = agent::TestConnection(path, 5s);
  EXPECT_EQ(t.exit_code, agent::kExitConfig);
  ASSERT_EQ(t.steps.size(), 1u);
  EXPECT_EQ(Name(t, 0), "config");
  EXPECT_NE(t.steps[0].hint.find("check-config"), std::string::npos);
}

// ---- status, log and diagnostics of an agent that answered -----------------------------------

TEST_F(OpsTest, StatusLogAndDiagnosticsOfAnAgentThatAnsweredHoldNoSecretsOrPersonalData) {
  agent::AgentConfig c = PoliceConfig();
  const auto log_file = hub_.dir() / "agent-police.log";
  c.log.file = log_file;
  // The agent's lines go to its log file, as `mash-agent run` with [log] file would.
  common::InitLogging({"mash-agent", common::LogLevel::kInfo, false, log_file});
  ConnectProxy proxy(ConnectProxy::Mode::kAuthRequired,
                     "Basic " + common::Base64Encode(common::AsBytes("agent-police:Zx9-proxy-pw")));
  c.proxy = agent::ProxyUrl{"127.0.0.1", proxy.port()};
  c.proxy_credentials = WriteCredentials("agent-police:Zx9-proxy-pw\n");
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");

  RunningAgent agent(c, random_);
  ASSERT_TRUE(hub_.WaitOnline("police", 10s));
  std::vector<std::string> checks;
  for (int i = 0; i < 2; ++i) {
    auto id = hub_.Raise(PoliceCheck());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(WaitForPoliceAnswer(hub_, *id, 20s)["state"], "awaiting_agency_review");
    checks.push_back(*id);
  }
  // Receipts follow the answers.
  json log;
  for (int i = 0; i < 200; ++i) {
    auto read = agent::ReadDisclosureLog(c, {});
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    log = *read;
    bool all = log["count"] == 2;
    for (const auto& e : log["entries"]) all = all && !e["receipt"].is_null();
    if (all) break;
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_EQ(log["count"], 2) << log.dump(2);
  for (const auto& e : log["entries"]) {
    EXPECT_FALSE(e["receipt"].is_null()) << e.dump(2);
    EXPECT_EQ(e["held"], true);
  }

  const int64_t now = common::SystemClock().NowUnix();
  const json status = agent::CollectStatus(c, now);
  EXPECT_EQ(status["agent"]["running"], true) << status.dump(2);
  EXPECT_EQ(status["connection"]["connected"], true) << status.dump(2);
  EXPECT_EQ(status["queries"]["received_since_start"], 2);
  EXPECT_EQ(status["queries"]["answers_sent_since_start"], 2);
  EXPECT_EQ(status["queries"]["receipts_held"], 2);
  EXPECT_FALSE(status["queries"]["last_received_at"].is_null());
  EXPECT_EQ(status["certificate"]["agency_id"], "police");
  EXPECT_EQ(status["certificate"]["matches_agency"], true);
  EXPECT_GT(status["certificate"]["days_left"].get<int64_t>(), 0);
  EXPECT_EQ(status["witness"]["alarm"], false);
  EXPECT_GT(status["witness"]["held_checkpoint_size"].get<int64_t>(), 0);
  EXPECT_EQ(agent::StatusExitCode(status), agent::kExitOk);

  auto bundle = agent::BuildDiagnostics(path, now);
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  const std::string text = bundle->dump();
  EXPECT_EQ((*bundle)["test_connection"]["ok"], true) << (*bundle)["test_connection"].dump(2);
  // The test says hello beside the running agent, with the checkpoint the agent holds.
  EXPECT_EQ((*bundle)["test_connection"]["steps"].back()["step"], "welcome");
  EXPECT_NE((*bundle)["test_connection"]["steps"].back()["detail"].get<std::string>().find(
                "consistent with the one held"),
            std::string::npos)
      << (*bundle)["test_connection"].dump(2);
  EXPECT_EQ((*bundle)["status"]["connection"]["connected"], true);
  EXPECT_FALSE((*bundle)["log"]["lines"].empty());
  EXPECT_EQ((*bundle)["config"]["values"]["broker"]["proxy_credentials"],
            c.proxy_credentials.string());
  bool saw_sign = false;
  for (const auto& f : (*bundle)["files"]) {
    if (f["role"] == "keys.sign") {
      saw_sign = true;
      EXPECT_EQ(f["mode"], "0600");
      EXPECT_EQ(f["permissions_ok"], true);
      EXPECT_EQ(
          f["public_fingerprint"],
          crypto::LoadSigningPublicKey(hub_.dir() / "keys" / "police.sign.pub")->Fingerprint());
    }
  }
  EXPECT_TRUE(saw_sign);

  // No secret: not a line of any secret file, not the raw keys in hex or base64.
  const std::vector<std::pair<std::filesystem::path, std::optional<crypto::KeyKind>>> secrets = {
      {c.sign_key, crypto::KeyKind::kSigningSecret},
      {c.enc_key, crypto::KeyKind::kEncryptionSecret},
      {c.database_key, crypto::KeyKind::kDatabaseKey},
      {c.tls.key_file, std::nullopt},
      {c.proxy_credentials, std::nullopt}};
  for (const auto& [file, kind] : secrets) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      if (line.size() < 12 || line.rfind("-----", 0) == 0 || line.rfind("MASH-", 0) == 0) {
        continue;
      }
      EXPECT_EQ(text.find(line), std::string::npos) << "a line of " << file << " is in the bundle";
    }
    if (kind) {
      auto key = crypto::ReadKeyFile(file, *kind);
      ASSERT_TRUE(key.ok());
      EXPECT_EQ(text.find(common::HexEncode(key->span())), std::string::npos) << file;
      EXPECT_EQ(text.find(common::Base64Encode(key->span())), std::string::npos) << file;
    }
  }
  EXPECT_EQ(text.find("Zx9-proxy-pw"), std::string::npos);
  // No personal data of the subject asked about, and no record content.
  for (const char* personal :
       {"Amelia", "Jones", "2015-03-09", "9434765919", "943 476 5919", "H801200001001", "LS6 2AB",
        "CF-2026-0042", "domestic abuse incidents", "Sam Example"}) {
    EXPECT_EQ(text.find(personal), std::string::npos) << personal;
  }
  agent.Stop();
  common::InitLogging({"test", common::LogLevel::kInfo, false, std::nullopt});
}

// ---- a second connection of the agency beside the running agent ------------------------------

// The number of disclosure log entries of `c` that hold their receipt, once there are `want`
// (or what there is after `limit`).
int WaitForReceipts(const agent::AgentConfig& c, int want, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int held = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto read = agent::ReadDisclosureLog(c, {});
    if (read.ok()) {
      held = 0;
      for (const auto& e : (*read)["entries"]) held += e["receipt"].is_null() ? 0 : 1;
      if (held >= want) break;
    }
    std::this_thread::sleep_for(25ms);
  }
  return held;
}

// The broker used to keep one held checkpoint size per agency: a second connection's hello
// (test-connection, a second instance) moved it, the running agent's next receipt was proved
// from the wrong size, and the agent dropped its connection to resynchronise. Now each
// connection has its own, receipts go only to a connection an agent answers on, and the
// running agent takes every receipt while the other connection stays open, and after a
// test-connection that says hello and closes.
TEST_F(OpsTest, ASecondConnectionOfTheAgencyLeavesTheRunningAgentsReceiptsAlone) {
  LogLines logs;
  const agent::AgentConfig c = PoliceConfig();
  const auto path = WriteAgentToml(c, hub_.dir() / "police.toml");
  RunningAgent agent(c, random_);
  ASSERT_TRUE(hub_.WaitOnline("police", 10s)) << logs.Text();

  auto first = hub_.Raise(PoliceCheck());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(WaitForPoliceAnswer(hub_, *first, 20s)["state"], "awaiting_agency_review");
  ASSERT_EQ(WaitForReceipts(c, 1, 20s), 1) << logs.Text();

  // The log grows past the checkpoint the agent holds, so that a hello from another
  // connection is shown a larger one.
  auto seal_size = [&] {
    return OnIo(hub_.io(), [&]() -> uint64_t {
      const auto seal = hub_.broker().audit().LatestSeal();
      return seal ? seal->checkpoint.size : 0;
    });
  };
  auto grow_log = [&] {
    const uint64_t before = seal_size();
    OnIo(hub_.io(), [&] {
      hub_.broker().checks().RecordRefusal({"test.practitioner", "practitioner"}, "bad_body");
      return 0;
    });
    for (int i = 0; i < 200 && seal_size() <= before; ++i) std::this_thread::sleep_for(10ms);
    return seal_size() > before;
  };
  ASSERT_TRUE(grow_log());

  // A second connection of the agency says hello and stays open without a word more.
  RawClient second(hub_.pki().ClientOptions("police"), hub_.agent_port());
  ASSERT_TRUE(second.Connect());
  ASSERT_TRUE(second.SendText(RawClient::Hello("police", hub_.dir() / "keys")));
  const auto welcome = second.Read(5s);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(json::parse(*welcome)["type"], "welcome") << *welcome;

  // The running agent keeps answering, and takes its receipt without resynchronising.
  auto next = hub_.Raise(PoliceCheck());
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(WaitForPoliceAnswer(hub_, *next, 20s)["state"], "awaiting_agency_review");
  EXPECT_EQ(WaitForReceipts(c, 2, 20s), 2) << logs.Text();
  // Neither the query nor the receipt went to the silent connection.
  bool timed_out = false;
  EXPECT_FALSE(second.Read(300ms, &timed_out).has_value());
  EXPECT_TRUE(timed_out);

  // test-connection beside it, shown a larger checkpoint than the agent holds, goes through the
  // welcome, and the agent goes on as before.
  ASSERT_TRUE(grow_log());
  const agent::ConnectionTest t = agent::TestConnection(path, 10s);
  EXPECT_EQ(t.exit_code, agent::kExitOk) << Steps(t);
  ASSERT_FALSE(t.steps.empty());
  EXPECT_EQ(t.steps.back().name, "welcome") << Steps(t);
  EXPECT_NE(t.steps.back().detail.find("consistent with the one held"), std::string::npos)
      << Steps(t);
  auto last = hub_.Raise(PoliceCheck());
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(WaitForPoliceAnswer(hub_, *last, 20s)["state"], "awaiting_agency_review");
  EXPECT_EQ(WaitForReceipts(c, 3, 20s), 3) << logs.Text();

  const std::string text = logs.Text();
  EXPECT_EQ(text.find("audit.resync_needed"), std::string::npos) << text;
  EXPECT_EQ(text.find("receipt.failed"), std::string::npos) << text;
  agent.Stop();
}

}  // namespace
}  // namespace mash::testing
