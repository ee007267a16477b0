#include "harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/http.hpp>

#include "mash/agent/agent_ops.h"
#include "mash/agent/status.h"
#include "mash/audit/query.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"
#include "mash/schemas/messages.h"

namespace mash::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

nlohmann::json ConsentedCheckBody(const std::vector<std::string>& agencies) {
  return {{"subject",
           {{"given_names", "Amelia"},
            {"family_name", "Jones"},
            {"dob", "2015-03-09"},
            {"identifiers", {{"nhs_number", "9434765919"}}}}},
          {"purpose", "child-protection-s47"},
          {"lawful_basis", "uk-gdpr-6-1-e"},
          {"consent", {{"state", "given"}, {"evidence_ref", "consent form CF-1042"}}},
          {"urgency", "amber"},
          {"agencies", agencies}};
}

struct TestHub::RunningAgent {
  std::string agency;
  agent::AgentConfig config;  // the ops listener's refresh reads it
  net::io_context io;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  agent::AgentMetrics metrics{*registry};
  std::unique_ptr<agent::Responder> responder;
  // The live state `mash-agent status` reads, kept as main.cc keeps it; outlives the channel.
  std::unique_ptr<agent::AgentStatusStore> status;
  std::shared_ptr<agent::Channel> channel;
  std::shared_ptr<ops::OpsServer> ops;  // with [ops] listen (tune)
  std::thread thread;
};

TestHub::TestHub(std::function<void(broker::BrokerConfig&)> tune, const common::Clock* broker_clock)
    : broker_clock_(broker_clock) {
  Init(std::move(tune));
}

TestHub::TestHub(std::function<void(broker::BrokerConfig&)> tune) { Init(std::move(tune)); }

void TestHub::Init(std::function<void(broker::BrokerConfig&)> tune) {
  common::InitCrypto();
  pki_ = TestPki::Create(kAgencies);
  if (!pki_) throw std::runtime_error("test PKI could not be made");
  const auto keys = dir_ / "keys";
  std::filesystem::create_directories(keys);
  if (!crypto::GenerateKeyPairFiles(keys, "hub").ok()) throw std::runtime_error("hub keys");
  auto write_db_key = [](const std::filesystem::path& p) {
    auto k = crypto::GenerateSymmetricKey();
    if (!crypto::WriteKeyFile(p, crypto::KeyKind::kDatabaseKey, k.span()).ok()) {
      throw std::runtime_error("db key");
    }
  };
  write_db_key(keys / "hub.db.key");
  write_db_key(keys / "hub.audit.db.key");
  if (!crypto::GenerateKeyPairFiles(keys, "hub.audit").ok()) throw std::runtime_error("audit keys");
  {
    auto k = crypto::GenerateSymmetricKey();
    if (!crypto::WriteKeyFile(keys / "hub.pseudonym.key", crypto::KeyKind::kPseudonymKey, k.span())
             .ok()) {
      throw std::runtime_error("pseudonym key");
    }
  }
  config_.hub_id = "hub";
  config_.agent_port = 0;
  config_.api_port = 0;
  config_.tls = pki_->ServerOptions();
  config_.sign_key = keys / "hub.sign.key";
  config_.enc_key = keys / "hub.enc.key";
  config_.database = dir_ / "hub.db";
  config_.database_key = keys / "hub.db.key";
  config_.audit.database = dir_ / "hub-audit.db";
  config_.audit.database_key = keys / "hub.audit.db.key";
  config_.audit.checkpoint_key = keys / "hub.audit.sign.key";
  config_.audit.pseudonym_key = keys / "hub.pseudonym.key";
  config_.policy.agreement =
      std::filesystem::path(MASH_SOURCE_DIR) / "examples/policies/hub-agreement.toml";
  config_.handshake_timeout = std::chrono::seconds(2);
  config_.idle_timeout = std::chrono::seconds(10);
  for (const auto& a : kAgencies) {
    if (!crypto::GenerateKeyPairFiles(keys, a).ok()) throw std::runtime_error("agency keys");
    write_db_key(keys / (a + ".db.key"));
    config_.agencies.push_back({a, a, a, keys / (a + ".sign.pub"), keys / (a + ".enc.pub")});
  }
  // Alerts that depend on the wall clock, or on how many checks a test raises, only where a test
  // turns them on.
  config_.alerts.out_of_hours = false;
  config_.alerts.volume_checks = 0;
  config_.alerts.volume_views = 0;
  if (tune) tune(config_);
  StartBroker();
}

TestHub::~TestHub() {
  StopAgents();
  StopBroker();
}

void TestHub::StartBroker() {
  io_.restart();
  auto b = broker::Broker::Create(io_, config_, *broker_clock_, random_);
  if (!b.ok()) throw std::runtime_error("broker: " + b.status().ToString());
  broker_ = std::move(*b);
  agent_port_ = broker_->agent_port();
  // Later restarts come back on the same ports, as a restarted daemon would.
  config_.agent_port = agent_port_;
  config_.api_port = broker_->api_port();
  thread_ = std::thread([this] { io_.run(); });
}

void TestHub::StopBroker() {
  if (!broker_) return;
  net::post(io_, [this] { broker_->Stop(); });
  thread_.join();
  broker_.reset();
}

agent::AgentConfig TestHub::AgentConfigFor(const std::string& agency,
                                           const std::filesystem::path& fixture) const {
  const auto keys = dir_ / "keys";
  agent::AgentConfig c;
  c.agency_id = agency;
  c.agency_name = agency;
  c.agency_type = agency;
  c.broker = {"localhost", agent_port_, "/agent/v1"};
  c.hub_id = "hub";
  c.broker_sign_public_key = keys / "hub.sign.pub";
  c.broker_enc_public_key = keys / "hub.enc.pub";
  c.tls = pki_->ClientOptions(agency);
  c.sign_key = keys / (agency + ".sign.key");
  c.enc_key = keys / (agency + ".enc.key");
  c.database = dir_ / (agency + ".db");
  c.database_key = keys / (agency + ".db.key");
  c.records_fixture = fixture;
  // The agency's example disclosure policy, unsigned (no trusted keys), and the hub's audit
  // checkpoint key, which the broker writes beside its other keys.
  c.policy.file = std::filesystem::path(MASH_SOURCE_DIR) / "examples" / "policies" /
                  (agency + "-disclosure.toml");
  c.audit_log_public_key = keys / "hub.audit.sign.pub";
  c.backoff_initial = std::chrono::milliseconds(50);
  c.backoff_max = std::chrono::milliseconds(400);
  return c;
}

void TestHub::StartAgent(const std::string& agency, const std::filesystem::path& fixture,
                         std::function<void(agent::AgentConfig&, crypto::TlsOptions&)> tune) {
  agent::AgentConfig c = AgentConfigFor(agency, fixture);
  crypto::TlsOptions& tls = c.tls;
  if (tune) tune(c, tls);
  auto ra = std::make_unique<RunningAgent>();
  auto responder = agent::Responder::Create(c, *broker_clock_, random_);
  if (!responder.ok()) throw std::runtime_error("responder: " + responder.status().ToString());
  ra->responder = std::move(*responder);
  auto ctx = crypto::MakeTlsContext(tls);
  if (!ctx.ok()) throw std::runtime_error("agent tls: " + ctx.status().ToString());
  agent::ChannelOptions opts;
  opts.broker = c.broker;
  opts.backoff_initial = c.backoff_initial;
  opts.backoff_max = c.backoff_max;
  ra->channel = std::make_shared<agent::Channel>(ra->io, *ctx, opts, ra->responder.get(), random_);
  auto status = agent::AgentStatusStore::Open(c, *broker_clock_);
  if (!status.ok()) throw std::runtime_error("agent status: " + status.status().ToString());
  ra->status = std::move(*status);
  ra->status->RecordStart(::getpid(), ra->responder->policies().enforced().version, "");
  ra->channel->set_observer(ra->status.get());
  ra->agency = agency;
  ra->config = c;
  ra->responder->set_metrics(&ra->metrics);
  ra->channel->set_metrics(&ra->metrics);
  if (c.ops_listen) {
    auto started = agent::StartAgentOps(ra->io, ra->config, ra->channel.get(), ra->responder.get(),
                                        &ra->metrics, ra->registry);
    if (!started.ok()) throw std::runtime_error("agent ops: " + started.status().ToString());
    ra->ops = std::move(*started);
  }
  auto* raw = ra.get();
  net::post(ra->io, [raw] { raw->channel->Start(); });
  ra->thread = std::thread([raw] { raw->io.run(); });
  agents_.push_back(std::move(ra));
}

void TestHub::StopAgents() {
  for (auto& a : agents_) {
    auto* raw = a.get();
    net::post(a->io, [raw] {
      if (raw->ops) raw->ops->Stop();
      raw->channel->Stop();
    });
    a->thread.join();
    a->status->RecordStop();
  }
  agents_.clear();
}

agent::Channel& TestHub::AgentChannel(size_t index) { return *agents_.at(index)->channel; }
boost::asio::io_context& TestHub::AgentIo(size_t index) { return agents_.at(index)->io; }

Result<std::string> TestHub::Raise(const broker::RaiseRequest& request, const std::string& user,
                                   const std::string& role) {
  auto result = std::make_shared<std::promise<Result<nlohmann::json>>>();
  auto fut = result->get_future();
  net::post(io_, [&, result] {
    broker_->checks().Raise(
        request, broker::Staff{user, role, "hub", "mash"},
        [result](Result<nlohmann::json> r) { result->set_value(std::move(r)); });
  });
  if (fut.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return Unavailable("raise did not complete");
  }
  auto shown = fut.get();
  if (!shown.ok()) return shown.status();
  return shown->at("id").get<std::string>();
}

uint16_t TestHub::agent_ops_port(const std::string& agency) const {
  for (const auto& a : agents_) {
    if (a->agency == agency && a->ops) return a->ops->port();
  }
  return 0;
}

prometheus::Registry& TestHub::agent_registry(const std::string& agency) {
  for (auto& a : agents_) {
    if (a->agency == agency) return *a->registry;
  }
  throw std::runtime_error("no agent " + agency);
}

bool TestHub::WaitOnline(const std::string& agency, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (OnIo(io_, [&] { return broker_->hub().IsOnline(agency); })) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

beast::http::response<beast::http::string_body> HttpsExchange(
    const TestPki& pki, uint16_t port, beast::http::request<beast::http::string_body> req) {
  namespace http = beast::http;
  crypto::TlsOptions tls;
  tls.role = crypto::TlsRole::kClient;
  tls.ca_file = pki.root_ca();
  tls.crl_files = pki.crls();
  auto ctx = crypto::MakeTlsContext(tls);
  if (!ctx.ok()) throw std::runtime_error("api client tls: " + ctx.status().ToString());
  net::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream(io, **ctx);
  if (!crypto::SetExpectedPeerName(stream.native_handle(), "localhost").ok()) {
    throw std::runtime_error("api client name");
  }
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.handshake(net::ssl::stream_base::client);
  if (req.find(http::field::host) == req.end()) req.set(http::field::host, "localhost");
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res, ec);
  if (ec) {
    ADD_FAILURE() << "no response: " << ec.message();
    http::response<http::string_body> none;
    none.result(0u);  // status 0: no answer
    return none;
  }
  stream.shutdown(ec);
  return res;
}

HttpReply HttpsCall(const TestPki& pki, uint16_t port, const std::string& method,
                    const std::string& target, const std::string& body, const std::string& token,
                    const std::string& content_type) {
  namespace http = beast::http;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  const auto res = HttpsExchange(pki, port, std::move(req));
  HttpReply r;
  r.status = res.result_int();
  r.body = nlohmann::json::parse(res.body(), nullptr, false);
  return r;
}

RawClient::RawClient(const crypto::TlsOptions& tls, uint16_t port) : port_(port) {
  auto ctx = crypto::MakeTlsContext(tls);
  if (!ctx.ok()) throw std::runtime_error("raw client tls: " + ctx.status().ToString());
  ctx_ = *ctx;
  ws_ = std::make_unique<Ws>(io_, *ctx_);
}

namespace {

// Runs the io_context until `done` or the timeout; true when done.
bool RunUntil(net::io_context& io, const bool& done, std::chrono::milliseconds timeout) {
  io.restart();
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < until) {
    io.run_for(std::chrono::milliseconds(10));
    if (io.stopped()) io.restart();
  }
  return done;
}

}  // namespace

bool RawClient::ConnectTcpOnly() {
  beast::error_code ec;
  beast::get_lowest_layer(*ws_).socket().connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  return !ec;
}

bool RawClient::Connect(const std::string& path) {
  if (!ConnectTcpOnly()) return false;
  SSL* ssl = ws_->next_layer().native_handle();
  if (!crypto::SetExpectedPeerName(ssl, "localhost").ok()) return false;
  bool done = false;
  beast::error_code result;
  ws_->next_layer().async_handshake(net::ssl::stream_base::client, [&](beast::error_code ec) {
    result = ec;
    done = true;
  });
  if (!RunUntil(io_, done, std::chrono::seconds(5)) || result) return false;
  done = false;
  ws_->async_handshake("localhost", path, [&](beast::error_code ec) {
    result = ec;
    done = true;
  });
  return RunUntil(io_, done, std::chrono::seconds(5)) && !result;
}

bool RawClient::SendText(const std::string& text) {
  ws_->text(true);
  bool done = false;
  beast::error_code result;
  ws_->async_write(net::buffer(text), [&](beast::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  return RunUntil(io_, done, std::chrono::seconds(5)) && !result;
}

bool RawClient::SendBinary(const std::string& data) {
  ws_->binary(true);
  bool done = false;
  beast::error_code result;
  ws_->async_write(net::buffer(data), [&](beast::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  return RunUntil(io_, done, std::chrono::seconds(5)) && !result;
}

bool RawClient::SendRaw(const std::string& bytes) {
  bool done = false;
  beast::error_code result;
  net::async_write(ws_->next_layer(), net::buffer(bytes), [&](beast::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  return RunUntil(io_, done, std::chrono::seconds(5)) && !result;
}

std::optional<std::string> RawClient::Read(std::chrono::milliseconds timeout, bool* timed_out) {
  beast::flat_buffer buf;
  bool done = false;
  beast::error_code result;
  ws_->async_read(buf, [&](beast::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  const bool finished = RunUntil(io_, done, timeout);
  if (timed_out) *timed_out = !finished;
  if (!finished) {
    // Abandon the read: close the socket so the handler runs and nothing dangles.
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
    RunUntil(io_, done, std::chrono::seconds(5));
    return std::nullopt;
  }
  if (result) return std::nullopt;
  return beast::buffers_to_string(buf.data());
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    bool timed_out = false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    auto msg = Read(left, &timed_out);
    if (timed_out) return false;
    if (!msg) return true;
  }
  return false;
}

std::string RawClient::Hello(const std::string& agency, const std::filesystem::path& keys_dir,
                             const std::string& keys_of) {
  const std::string who = keys_of.empty() ? agency : keys_of;
  auto sign = crypto::LoadSigningPublicKey(keys_dir / (who + ".sign.pub"));
  auto enc = crypto::LoadEncryptionPublicKey(keys_dir / (who + ".enc.pub"));
  schemas::Hello h;
  h.agency = agency;
  h.sign_key = sign.ok() ? sign->Fingerprint() : "";
  h.enc_key = enc.ok() ? enc->Fingerprint() : "";
  h.software = "raw-test-client";
  return h.ToJson().dump();
}

std::vector<audit::AuditEvent> AuditEventsOf(TestHub& hub, const std::string& check_id) {
  OnIo(hub.io(), [] { return 0; });
  hub.broker().audit().Flush();
  storage::DatabaseOptions o{hub.config().audit.database, hub.config().audit.database_key, false};
  auto db = storage::Database::Open(o);
  if (!db.ok()) throw std::runtime_error("audit db: " + db.status().ToString());
  auto events = audit::QueryEvents(**db, audit::QueryFilter{});
  if (!events.ok()) throw std::runtime_error("audit query: " + events.status().ToString());
  std::vector<audit::AuditEvent> out;
  for (auto& e : *events) {
    if (check_id.empty() || e.check_ref == check_id) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace mash::testing
