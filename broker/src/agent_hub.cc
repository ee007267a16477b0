#include "mash/broker/agent_hub.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>

#include "mash/common/log.h"
#include "mash/crypto/tls.h"

namespace mash::broker {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

inline constexpr const char* kAgentPath = "/agent/v1";
inline constexpr size_t kUpgradeHeaderLimit = 8 * 1024;
// After a failed accept (EMFILE, ENFILE, ENOBUFS: the connection stays in the backlog, so an
// immediate retry fails again at once) the acceptor waits this long instead of spinning.
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// Failed accepts and shed connections are logged at most once per this interval, with counts.
inline constexpr auto kSheddingLogInterval = std::chrono::seconds(10);

struct AgentHub::Impl {
  explicit Impl(net::io_context& io) : acceptor(io), accept_retry(io) {}
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
};

namespace {
// True when a rate-limited line is due (at most one per kSheddingLogInterval).
bool LogDue(std::chrono::steady_clock::time_point& last) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last < kSheddingLogInterval) return false;
  last = now;
  return true;
}
}  // namespace

// One authenticated agent connection. Kept alive by its pending operations.
class AgentSession : public std::enable_shared_from_this<AgentSession> {
 public:
  AgentSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls,
               std::shared_ptr<AgentHub> hub)
      : tls_(std::move(tls)),
        ws_(std::move(socket), *tls_),
        hub_(std::move(hub)),
        id_(hub_->next_session_++),
        hello_timer_(ws_.get_executor()),
        write_timer_(ws_.get_executor()) {
    beast::error_code ec;
    const auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) {
      address_ = ep.address().to_string();
      peer_ = address_ + ":" + std::to_string(ep.port());
    }
    hub_->SessionOpened(this, address_);
  }

  ~AgentSession() {
    FailQueue();
    if (attached_) hub_->Detach(agency_, this);
    hub_->SessionClosed(this);
  }

  void Run() {
    beast::get_lowest_layer(ws_).expires_after(hub_->options_.handshake_timeout);
    ws_.next_layer().async_handshake(
        net::ssl::stream_base::server,
        beast::bind_front_handler(&AgentSession::OnTlsHandshake, shared_from_this()));
  }

  // Queues a frame; false (and the session closes) when the queue is full.
  bool Send(std::string frame, AgentHub::Delivery delivered = {}) {
    if (closing_) return false;
    if (queue_.size() >= hub_->options_.max_queue) {
      common::LogWarn("agent.queue_full", {{"agency", agency_}});
      Abort();
      return false;
    }
    queue_.push_back({std::move(frame), std::move(delivered)});
    if (queue_.size() == 1) DoWrite();
    return true;
  }

  // Closes the connection at once, cancelling everything in flight.
  void Abort() {
    FailQueue();
    closing_ = true;
    hello_timer_.cancel();
    write_timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  const std::string& agency() const { return agency_; }
  uint64_t id() const { return id_; }
  bool active() const { return active_ && !closing_; }

 private:
  // Tells the sender of every frame still queued that it was not written. The write in flight
  // (the front) is reported by OnWrite instead. Posted, so that no caller is re-entered.
  void FailQueue() {
    const size_t keep = write_in_flight_ ? 1 : 0;
    while (queue_.size() > keep) {
      if (auto done = std::move(queue_.back().delivered)) {
        net::post(hub_->io_, [done = std::move(done)] { done(false); });
      }
      queue_.pop_back();
    }
  }

  void Fail(std::string_view event, const nlohmann::json& fields) {
    // A connection shed to make room (AdmitNewConnection) was already counted there.
    if (closing_ && !welcomed_) return;
    nlohmann::json f = fields;
    f["peer"] = peer_;
    if (!agency_.empty()) f["agency"] = agency_;
    // Before its certificate has been checked the peer is a stranger: these lines are
    // rate-limited, so that a flood of strangers cannot flood the log (the count of those left
    // out is in the next line). A peer with a valid certificate is always logged.
    if (agency_.empty()) {
      if (!LogDue(hub_->last_refusal_log_)) {
        ++hub_->refusals_unlogged_;
        return;
      }
      if (hub_->refusals_unlogged_ > 0) {
        f["unlogged_since_last"] = std::exchange(hub_->refusals_unlogged_, 0);
      }
    }
    common::LogWarn(event, f);
  }

  void OnTlsHandshake(beast::error_code ec) {
    if (ec) {
      // Bad, revoked, expired or missing client certificates end here.
      return Fail("agent.tls_failed", {{"error", ec.message()}});
    }
    auto agency = crypto::PeerAgencyId(ws_.next_layer().native_handle());
    if (!agency.ok()) {
      Fail("agent.identity_missing", {{"error", agency.status().message()}});
      return Abort();
    }
    agency_ = *agency;
    parser_.emplace();
    parser_->header_limit(kUpgradeHeaderLimit);
    parser_->body_limit(0);
    http::async_read(
        ws_.next_layer(), buffer_, *parser_,
        beast::bind_front_handler(&AgentSession::OnUpgradeRequest, shared_from_this()));
  }

  void OnUpgradeRequest(beast::error_code ec, size_t) {
    if (ec) return Fail("agent.upgrade_failed", {{"error", ec.message()}});
    const auto& req = parser_->get();
    if (!websocket::is_upgrade(req) || req.target() != kAgentPath) {
      Fail("agent.bad_upgrade", {});
      return Abort();
    }
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = hub_->options_.handshake_timeout;
    t.idle_timeout = hub_->options_.idle_timeout;
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "mash-broker"); }));
    ws_.read_message_max(hub_->options_.max_frame_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&AgentSession::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec) {
    if (ec) return Fail("agent.ws_accept_failed", {{"error", ec.message()}});
    parser_.reset();
    // The hello must arrive within the handshake deadline.
    hello_timer_.expires_after(hub_->options_.handshake_timeout);
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code tec) {
      if (tec || self->welcomed_) return;
      self->Fail("agent.hello_timeout", {});
      self->Abort();
    });
    DoRead();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&AgentSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (closing_) return;  // a frame that raced with Abort() is not acted on
    if (ec) {
      if (ec == websocket::error::closed || ec == net::error::operation_aborted) return;
      // Covers oversize frames (message_too_big), idle timeouts and broken connections.
      return Fail("agent.read_failed", {{"error", ec.message()}});
    }
    const std::string text = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (!ws_.got_text()) {
      ProtocolError("binary frame");
    } else {
      auto frame = schemas::ParseFrame(text);
      if (!frame.ok()) {
        ProtocolError(frame.status().message());
      } else if (!welcomed_) {
        OnHello(*frame);
      } else {
        OnFrame(*frame);
      }
    }
    if (!closing_) DoRead();
  }

  void ProtocolError(const std::string& why) {
    Fail("agent.bad_frame", {{"error", why}});
    SendError("bad_request");
    if (++protocol_errors_ > hub_->options_.max_protocol_errors || !welcomed_) CloseAfterWrites();
  }

  void OnHello(const schemas::Frame& frame) {
    if (frame.type != schemas::MessageType::kHello) return ProtocolError("expected hello");
    const schemas::Hello hello = schemas::Hello::FromJson(frame.doc);
    if (hello.agency != agency_) {
      // The certificate says who this is; a payload claiming otherwise is refused and recorded.
      Fail("agent.identity_mismatch", {{"claimed", hello.agency}});
      SendError("unauthorised");
      return CloseAfterWrites();
    }
    if (!hub_->key_check_(agency_, hello.sign_key, hello.enc_key)) {
      Fail("agent.key_mismatch", {});
      SendError("unauthorised");
      return CloseAfterWrites();
    }
    if (std::find(hello.versions.begin(), hello.versions.end(), schemas::kProtocolVersion) ==
        hello.versions.end()) {
      Fail("agent.version_unsupported", {});
      SendError("version");
      return CloseAfterWrites();
    }
    if (!hub_->Attach(agency_, shared_from_this())) {
      Fail("agent.too_many_connections", {});
      SendError("too_many");
      return CloseAfterWrites();
    }
    attached_ = true;
    welcomed_ = true;
    hub_->SessionWelcomed(this);
    hello_timer_.cancel();
    schemas::Welcome welcome = hub_->options_.welcome;
    welcome.audit = hub_->events_->OnHello(agency_, id_, hello);
    Send(welcome.ToJson().dump());
    common::LogInfo("agent.connected", {{"agency", agency_}, {"peer", peer_}});
    hub_->events_->OnAgentOnline(agency_);
  }

  void OnFrame(const schemas::Frame& frame) {
    if (!active_ &&
        (frame.type == schemas::MessageType::kPing || frame.type == schemas::MessageType::kAnswer ||
         frame.type == schemas::MessageType::kReviewPending)) {
      active_ = true;
      hub_->events_->OnSessionActive(agency_, id_);
    }
    switch (frame.type) {
      case schemas::MessageType::kPing: {
        const auto ping = schemas::Ping::FromJson(frame.doc);
        if (!ping.reply) Send(schemas::Ping{ping.nonce, true}.ToJson().dump());
        return;
      }
      case schemas::MessageType::kAnswer: {
        auto env = crypto::SealedEnvelope::FromJson(frame.doc.at("envelope"));
        if (!env.ok()) return ProtocolError(env.status().message());
        const Status s = hub_->events_->OnAnswer(agency_, *env);
        if (!s.ok())
          SendError(s.code() == StatusCode::kUnavailable ? "unavailable" : "bad_request");
        return;
      }
      case schemas::MessageType::kReviewPending: {
        auto env = crypto::SealedEnvelope::FromJson(frame.doc.at("envelope"));
        if (!env.ok()) return ProtocolError(env.status().message());
        const Status s = hub_->events_->OnReviewPending(agency_, *env);
        if (!s.ok())
          SendError(s.code() == StatusCode::kUnavailable ? "unavailable" : "bad_request");
        return;
      }
      case schemas::MessageType::kError: {
        const auto err = schemas::ErrorMessage::FromJson(frame.doc);
        common::LogWarn("agent.reported_error", {{"agency", agency_}, {"code", err.code}});
        return;
      }
      default:
        return ProtocolError("unexpected message type");
    }
  }

  void SendError(const std::string& code) {
    schemas::ErrorMessage e;
    e.code = code;
    Send(e.ToJson().dump());
  }

  void CloseAfterWrites() {
    close_after_writes_ = true;
    if (queue_.empty()) DoClose();
  }

  void DoClose() {
    if (closing_) return;
    closing_ = true;
    hello_timer_.cancel();
    ws_.async_close(websocket::close_code::policy_error,
                    [self = shared_from_this()](beast::error_code) { self->Abort(); });
  }

  void DoWrite() {
    write_in_flight_ = true;
    ws_.text(true);
    write_timer_.expires_after(hub_->options_.write_timeout);
    write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->Fail("agent.write_stalled", {});
      self->Abort();
    });
    ws_.async_write(net::buffer(queue_.front().frame),
                    beast::bind_front_handler(&AgentSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    write_timer_.cancel();
    write_in_flight_ = false;
    auto done = std::move(queue_.front().delivered);
    queue_.pop_front();
    if (done) net::post(hub_->io_, [done = std::move(done), ok = !ec] { done(ok); });
    if (ec) {
      if (ec != net::error::operation_aborted)
        Fail("agent.write_failed", {{"error", ec.message()}});
      return Abort();
    }
    if (!queue_.empty()) return DoWrite();
    if (close_after_writes_) DoClose();
  }

  // The context this connection was accepted with, kept while it lives (a reload swaps the
  // hub's for new connections).
  std::shared_ptr<net::ssl::context> tls_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  std::shared_ptr<AgentHub> hub_;
  const uint64_t id_;
  net::steady_timer hello_timer_;
  net::steady_timer write_timer_;
  beast::flat_buffer buffer_;
  beast::flat_buffer read_buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  struct Outgoing {
    std::string frame;
    AgentHub::Delivery delivered;
  };
  std::deque<Outgoing> queue_;
  std::string agency_;
  std::string address_;
  std::string peer_;
  bool write_in_flight_ = false;
  int protocol_errors_ = 0;
  bool welcomed_ = false;
  bool active_ = false;  // a frame came after the welcome: an agent is answering on it
  bool attached_ = false;
  bool closing_ = false;
  bool close_after_writes_ = false;
};

AgentHub::AgentHub(net::io_context& io, std::shared_ptr<net::ssl::context> tls,
                   AgentHubOptions options, KeyCheck key_check, AgentEvents* events)
    : impl_(std::make_unique<Impl>(io)),
      io_(io),
      tls_(std::move(tls)),
      options_(std::move(options)),
      key_check_(std::move(key_check)),
      events_(events) {}

AgentHub::~AgentHub() = default;

Result<std::shared_ptr<AgentHub>> AgentHub::Start(net::io_context& io,
                                                  std::shared_ptr<net::ssl::context> tls,
                                                  AgentHubOptions options, KeyCheck key_check,
                                                  AgentEvents* events) {
  std::shared_ptr<AgentHub> hub(
      new AgentHub(io, std::move(tls), std::move(options), std::move(key_check), events));
  beast::error_code ec;
  const auto address = net::ip::make_address(hub->options_.address, ec);
  if (ec) return InvalidArgument("bad listen address");
  tcp::endpoint ep(address, hub->options_.port);
  auto& acc = hub->impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen for agents: " + ec.message());
  hub->port_ = acc.local_endpoint().port();
  hub->DoAccept();
  return hub;
}

void AgentHub::DoAccept() {
  impl_->acceptor.async_accept(
      net::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == net::error::operation_aborted || self->stopped_) return;
          // Out of file descriptors (or buffers): the connection stays queued, and accepting
          // again at once would fail again at once. Wait, then carry on.
          ++self->accept_failures_;
          if (LogDue(self->last_accept_log_)) {
            common::LogError(
                "agent.accept_failed",
                {{"error", ec.message()}, {"failures", std::exchange(self->accept_failures_, 0)}});
          }
          self->impl_->accept_retry.expires_after(kAcceptRetryDelay);
          self->impl_->accept_retry.async_wait([self](beast::error_code tec) {
            if (!tec && !self->stopped_) self->DoAccept();
          });
          return;
        } else if (beast::error_code aec;
                   !self->AdmitNewConnection(socket.remote_endpoint(aec).address().to_string())) {
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<AgentSession>(std::move(socket), self->tls_, self)->Run();
        }
        if (!self->stopped_ && self->accepting_) self->DoAccept();
      });
}

void AgentHub::SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls) {
  tls_ = std::move(tls);
}

void AgentHub::StopAccepting() {
  accepting_ = false;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

void AgentHub::Stop() {
  stopped_ = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_retry.cancel();
  // Sessions hold the hub alive; copy first, Abort() lets them unwind.
  const std::vector<AgentSession*> open(sessions_.begin(), sessions_.end());
  for (auto* s : open) s->Abort();
}

uint64_t AgentHub::Send(const std::string& agency, std::string frame, Delivery delivered) {
  // The newest connection an agent answers on; the newest of all when none has said anything
  // since its welcome yet (an agent that just connected).
  if (const uint64_t active = ActiveSession(agency); active != 0) {
    return SendTo(agency, active, std::move(frame), std::move(delivered));
  }
  const auto it = attached_.find(agency);
  if (it == attached_.end()) return 0;
  for (auto rit = it->second.rbegin(); rit != it->second.rend(); ++rit) {
    if (auto s = rit->lock()) return s->Send(std::move(frame), std::move(delivered)) ? s->id() : 0;
  }
  return 0;
}

uint64_t AgentHub::SendTo(const std::string& agency, uint64_t session, std::string frame,
                          Delivery delivered) {
  const auto it = attached_.find(agency);
  if (it == attached_.end()) return 0;
  for (const auto& w : it->second) {
    auto s = w.lock();
    if (s && s->id() == session) {
      return s->Send(std::move(frame), std::move(delivered)) ? s->id() : 0;
    }
  }
  return 0;
}

uint64_t AgentHub::ActiveSession(const std::string& agency) const {
  const auto it = attached_.find(agency);
  if (it == attached_.end()) return 0;
  for (auto rit = it->second.rbegin(); rit != it->second.rend(); ++rit) {
    if (auto s = rit->lock(); s && s->active()) return s->id();
  }
  return 0;
}

bool AgentHub::AdmitNewConnection(const std::string& address) {
  // The oldest pending session, of `address` only when `from_address`.
  auto oldest = [&](bool from_address) -> AgentSession* {
    AgentSession* found = nullptr;
    uint64_t order = UINT64_MAX;
    for (const auto& [s, p] : pending_) {
      if ((!from_address || p.address == address) && p.order < order) {
        found = s;
        order = p.order;
      }
    }
    return found;
  };
  AgentSession* victim = nullptr;
  std::string_view why;
  const auto it = pending_by_address_.find(address);
  if (it != pending_by_address_.end() && it->second >= options_.max_pending_per_address) {
    victim = oldest(true);
    why = "max_pending_per_address";
  } else if (static_cast<int>(pending_.size()) >= options_.max_pending) {
    victim = oldest(false);
    why = "max_pending";
  } else if (connections_ >= options_.max_connections) {
    victim = oldest(false);
    why = "max_connections";
    if (victim == nullptr) {
      LogShed("max_connections_refused");
      return false;
    }
  } else {
    return true;
  }
  // A peer that has not finished its handshake and hello gives up its slot to the newcomer: an
  // agent reconnecting finishes in milliseconds, a peer that holds connections open does not.
  if (victim != nullptr) {
    SessionWelcomed(victim);  // no longer pending: not chosen twice
    victim->Abort();
  }
  LogShed(why);
  return true;
}

void AgentHub::LogShed(std::string_view why) {
  ++shed_;
  if (LogDue(last_shed_log_)) {
    common::LogWarn("agent.connections_shed",
                    {{"shed", std::exchange(shed_, 0)},
                     {"reason", why},
                     {"max_pending", options_.max_pending},
                     {"max_pending_per_address", options_.max_pending_per_address},
                     {"max_connections", options_.max_connections}});
  }
}

bool AgentHub::IsOnline(const std::string& agency) const {
  const auto it = attached_.find(agency);
  if (it == attached_.end()) return false;
  for (const auto& w : it->second) {
    if (!w.expired()) return true;
  }
  return false;
}

std::vector<std::string> AgentHub::Online() const {
  std::vector<std::string> out;
  for (const auto& [agency, _] : attached_) {
    if (IsOnline(agency)) out.push_back(agency);
  }
  return out;
}

bool AgentHub::Attach(const std::string& agency, const std::shared_ptr<AgentSession>& session) {
  auto& list = attached_[agency];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  if (static_cast<int>(list.size()) >= options_.max_connections_per_agency) return false;
  list.push_back(session);
  return true;
}

void AgentHub::Detach(const std::string& agency, const AgentSession* session) {
  if (!stopped_) events_->OnSessionClosed(agency, session->id());
  const auto it = attached_.find(agency);
  if (it == attached_.end()) return;
  // Called from the session's destructor: its weak_ptr has already expired.
  std::erase_if(it->second, [&](const auto& w) {
    auto s = w.lock();
    return !s || s.get() == session;
  });
  if (it->second.empty()) {
    attached_.erase(it);
    common::LogInfo("agent.disconnected", {{"agency", agency}});
    if (!stopped_) events_->OnAgentOffline(agency);
  }
}

void AgentHub::SessionOpened(AgentSession* s, const std::string& address) {
  sessions_.insert(s);
  ++connections_;
  pending_.emplace(s, Pending{address, s->id()});
  ++pending_by_address_[address];
}

void AgentHub::SessionWelcomed(AgentSession* s) {
  const auto it = pending_.find(s);
  if (it == pending_.end()) return;
  if (--pending_by_address_[it->second.address] == 0) pending_by_address_.erase(it->second.address);
  pending_.erase(it);
}

void AgentHub::SessionClosed(AgentSession* s) {
  SessionWelcomed(s);  // no longer pending either way
  sessions_.erase(s);
  --connections_;
}

}  // namespace mash::broker
