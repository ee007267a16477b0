#include "mash/agent/channel.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>

#include "mash/agent/dial.h"
#include "mash/common/log.h"

namespace mash::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// One attempt: resolve, connect, TLS, WebSocket, hello/welcome, then the session until it ends.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Channel> channel)
      : channel_(std::move(channel)),
        resolver_(net::make_strand(channel_->io_)),
        ws_(resolver_.get_executor(), *channel_->tls_),
        ping_timer_(ws_.get_executor()),
        review_timer_(ws_.get_executor()),
        write_timer_(ws_.get_executor()),
        setup_timer_(ws_.get_executor()) {}

  void Run() {
    // One deadline from the name lookup to the welcome, besides each step's own: a broker that
    // accepts and then says nothing (or a resolver that hangs) cannot hold the agent.
    setup_timer_.expires_after(channel_->options_.handshake_timeout * 3);
    setup_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->welcomed_ || self->done_) return;
      common::LogWarn("broker.connection_failed", {{"step", "setup deadline"}});
      self->Abort();
    });
    const ChannelOptions& o = channel_->options_;
    DialOptions dial;
    dial.broker = o.broker;
    dial.proxy = o.proxy;
    dial.proxy_authorization = o.proxy_authorization;
    dial.handshake_timeout = o.handshake_timeout;
    AsyncDial(ws_, resolver_, dial, {},
              [self = shared_from_this()](std::optional<DialFailure> failure) {
                if (failure) return self->Fail(*failure);
                self->OnDialled();
              });
  }

  // No answer being computed and nothing waiting to be written (or the connection is over):
  // what a drain waits for.
  bool Idle() const { return done_ || (lookups_ == 0 && queue_.empty()); }

  void Abort() {
    if (done_) return;
    done_ = true;
    ping_timer_.cancel();
    review_timer_.cancel();
    write_timer_.cancel();
    setup_timer_.cancel();
    resolver_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
    channel_->OnConnectionClosed(welcomed_);
  }

 private:
  void Fail(std::string_view step, const beast::error_code& ec) {
    if (done_) return;
    common::LogWarn("broker.connection_failed", {{"step", step}, {"error", ec.message()}});
    Abort();
  }

  void Fail(const DialFailure& f) {
    if (done_) return;
    nlohmann::json fields = {{"step", DialStepName(f.step)}, {"error", f.detail}};
    if (f.proxy_status != 0) fields["proxy_status"] = f.proxy_status;
    common::LogWarn("broker.connection_failed", fields);
    Abort();
  }

  void OnDialled() {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = channel_->options_.handshake_timeout;
    // The broker answers every ping; three intervals of silence means the link is dead.
    t.idle_timeout = channel_->options_.ping_interval * 3;
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(schemas::kMaxFrameBytes);
    Send(channel_->responder_->MakeHello().ToJson().dump());
    DoRead();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&Connection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Fail("read", ec);
    const std::string text = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    auto frame = schemas::ParseFrame(text);
    if (!frame.ok()) {
      common::LogWarn("broker.bad_frame", {{"error", frame.status().message()}});
      return Abort();  // the broker is trusted to speak the protocol; anything else ends it
    }
    if (!welcomed_) {
      if (frame->type != schemas::MessageType::kWelcome) {
        if (frame->type == schemas::MessageType::kError) {
          common::LogError("broker.refused",
                           {{"code", schemas::ErrorMessage::FromJson(frame->doc).code}});
        }
        return Abort();
      }
      const auto welcome = schemas::Welcome::FromJson(frame->doc);
      if (!channel_->responder_->WelcomeMatches(welcome)) {
        common::LogError("broker.key_mismatch", {});
        return Abort();
      }
      // The hub must show its audit log to a witness. A checkpoint that is not accepted ends
      // the connection (a later one may do better); an alarmed agent stays connected so that
      // the hub hears "unavailable" for every query instead of seeing it flap.
      if (!channel_->responder_->OnWelcome(welcome).ok() && !channel_->responder_->alarmed()) {
        return Abort();
      }
      welcomed_ = true;
      setup_timer_.cancel();
      ping_interval_ = std::chrono::seconds(welcome.ping_interval_s);
      if (channel_->options_.ping_interval < ping_interval_) {
        ping_interval_ = channel_->options_.ping_interval;
      }
      channel_->OnWelcomed();
      channel_->responder_->OnConnected();
      // A ping at once tells the broker an agent answers on this connection (not a probe such
      // as test-connection): receipts kept for the agency go out only to such a connection.
      Send(schemas::Ping{channel_->random_.Hex(8), false}.ToJson().dump());
      SchedulePing();
      ScheduleReviewPoll();
    } else {
      OnFrame(*frame);
    }
    if (!done_) DoRead();
  }

  void OnFrame(const schemas::Frame& frame) {
    switch (frame.type) {
      case schemas::MessageType::kQuery: {
        if (channel_->observer_ != nullptr) channel_->observer_->OnQuery();
        const auto received = std::chrono::steady_clock::now();
        if (channel_->draining_) {
          // Not opened, so nothing is remembered of it: the hub sends it again in a new
          // envelope on the next connection (after the restart).
          common::LogInfo("query.refused_draining", {});
          return SendError(Unavailable("stopping"));
        }
        auto env = crypto::SealedEnvelope::FromJson(frame.doc.at("envelope"));
        Result<Responder::OpenedQuery> opened = env.ok()
                                                    ? channel_->responder_->OpenQuery(*env)
                                                    : Result<Responder::OpenedQuery>(env.status());
        if (!opened.ok()) return SendError(opened.status());
        // The lookup runs on the worker; the io thread goes on with pings and other queries.
        auto query = std::make_shared<const Responder::OpenedQuery>(std::move(opened).value());
        auto job = [self = shared_from_this(), query, executor = ws_.get_executor(),
                    responder = channel_->responder_, received]() mutable {
          Result<Responder::Found> found = responder->FindRecords(*query);
          // Everything goes back to the io thread: nothing io-owned is released here.
          net::post(executor, [self = std::move(self), query = std::move(query),
                               found = std::move(found), received]() mutable {
            self->OnRecordsFound(*query, std::move(found), received);
          });
        };
        if (channel_->worker_ == nullptr || !channel_->worker_->Submit(std::move(job))) {
          common::LogWarn("query.lookup_queue_full", {{"check", query->header.check_ref}});
          if (channel_->metrics_ != nullptr) channel_->metrics_->Query("unavailable");
          SendError(Unavailable("lookup queue full"));
          return;
        }
        ++lookups_;
        return;
      }
      case schemas::MessageType::kReceipt: {
        auto env = crypto::SealedEnvelope::FromJson(frame.doc.at("envelope"));
        if (!env.ok()) {
          common::LogWarn("receipt.rejected", {{"reason", env.status().message()}});
          return;
        }
        // A receipt asks for no reply; the responder logs what it refused (and any alarm).
        (void)channel_->responder_->OnReceipt(*env);
        // A checkpoint the witness could not connect to what it holds: a new connection's
        // welcome must prove consistency before anything more is answered.
        if (channel_->responder_->NeedsResync() && !channel_->responder_->alarmed()) {
          return Abort();
        }
        return;
      }
      case schemas::MessageType::kChase: {
        // A chase asks for no reply: one that does not verify is logged and dropped, like a
        // bad receipt (the responder logs why).
        auto env = crypto::SealedEnvelope::FromJson(frame.doc.at("envelope"));
        bool accepted = false;
        if (!env.ok()) {
          common::LogWarn("chase.rejected", {{"reason", env.status().message()}});
        } else {
          accepted = channel_->responder_->OnChase(*env).ok();
        }
        if (channel_->observer_ != nullptr) channel_->observer_->OnChase(accepted);
        return;
      }
      case schemas::MessageType::kPing: {
        const auto ping = schemas::Ping::FromJson(frame.doc);
        if (!ping.reply) Send(schemas::Ping{ping.nonce, true}.ToJson().dump());
        return;
      }
      case schemas::MessageType::kError:
        common::LogWarn("broker.reported_error",
                        {{"code", schemas::ErrorMessage::FromJson(frame.doc).code}});
        return;
      default:
        common::LogWarn("broker.unexpected_frame",
                        {{"type", schemas::MessageTypeName(frame.type)}});
        return;
    }
  }

  void SendError(const Status& status) {
    schemas::ErrorMessage e;
    e.code = status.code() == StatusCode::kUnavailable ? "unavailable" : "bad_request";
    Send(e.ToJson().dump());
  }

  // Back on the io thread with what the record source found: decide, seal and send.
  void OnRecordsFound(const Responder::OpenedQuery& query, Result<Responder::Found> found,
                      std::chrono::steady_clock::time_point received) {
    --lookups_;
    if (done_) return;  // the connection ended meanwhile: nothing is sent or recorded
    Result<std::string> answer = channel_->responder_->FinishAnswer(query, std::move(found));
    // A review_pending for the answer's categories that wait for the custodian goes first
    // (it was sealed first); after a failed answer it is dropped.
    std::vector<std::string> before = channel_->responder_->TakeOutgoing();
    if (answer.ok()) {
      for (auto& f : before) Send(std::move(f));
      Send(std::move(*answer));
      if (channel_->observer_ != nullptr) channel_->observer_->OnAnswerSent();
      if (channel_->metrics_ != nullptr) {
        channel_->metrics_->AnswerLatency(std::chrono::steady_clock::now() - received);
      }
    } else {
      SendError(answer.status());
    }
  }

  void SchedulePing() {
    ping_timer_.expires_after(ping_interval_);
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_) return;
      self->Send(schemas::Ping{self->channel_->random_.Hex(8), false}.ToJson().dump());
      self->SchedulePing();
    });
  }

  // Decisions are written by `mash-agent review` in another process: polling the database
  // picks them up whenever they are made, and after a restart.
  void ScheduleReviewPoll() {
    review_timer_.expires_after(channel_->options_.review_poll_interval);
    review_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_) return;
      for (auto& frame : self->channel_->responder_->PollReviews()) self->Send(std::move(frame));
      self->ScheduleReviewPoll();
    });
  }

  void Send(std::string frame) {
    if (done_) return;
    if (queue_.size() >= channel_->options_.max_queue) {
      common::LogWarn("broker.queue_full", {});
      return Abort();
    }
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1) DoWrite();
  }

  void DoWrite() {
    ws_.text(true);
    write_timer_.expires_after(channel_->options_.write_timeout);
    write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      common::LogWarn("broker.write_stalled", {});
      self->Abort();
    });
    ws_.async_write(net::buffer(queue_.front()),
                    beast::bind_front_handler(&Connection::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    write_timer_.cancel();
    if (ec) return Fail("write", ec);
    queue_.pop_front();
    if (!queue_.empty()) DoWrite();
  }

  std::shared_ptr<Channel> channel_;
  tcp::resolver resolver_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  net::steady_timer ping_timer_;
  net::steady_timer review_timer_;
  net::steady_timer write_timer_;
  net::steady_timer setup_timer_;
  beast::flat_buffer read_buffer_;
  std::deque<std::string> queue_;
  int lookups_ = 0;  // queries handed to the lookup worker and not yet answered
  std::chrono::milliseconds ping_interval_{20000};
  bool welcomed_ = false;
  bool done_ = false;
};

Channel::Channel(net::io_context& io, std::shared_ptr<net::ssl::context> tls,
                 ChannelOptions options, Responder* responder, common::RandomSource& random)
    : io_(io),
      tls_(std::move(tls)),
      options_(std::move(options)),
      responder_(responder),
      random_(random),
      retry_timer_(io),
      drain_timer_(io) {}

Channel::~Channel() {
  if (worker_ != nullptr) worker_->Stop();
}

void Channel::Start() {
  stopped_ = false;
  if (worker_ == nullptr) worker_ = std::make_unique<LookupWorker>(options_.lookup_queue);
  backoff_ = std::chrono::milliseconds(0);
  Connect();
}

void Channel::Drain(std::chrono::milliseconds bound, std::function<void()> drained) {
  if (stopped_ || draining_) return;
  draining_ = true;
  retry_timer_.cancel();  // no new connection: a disconnected agent has nothing to finish
  drain_deadline_ = std::chrono::steady_clock::now() + bound;
  on_drained_ = std::move(drained);
  common::LogInfo("agent.draining", {{"bound_ms", bound.count()}});
  WatchDrain();
}

void Channel::WatchDrain() {
  const auto c = current_.lock();
  const bool idle = c == nullptr || c->Idle();
  const bool timed_out = std::chrono::steady_clock::now() >= drain_deadline_;
  if (idle || timed_out || stopped_) {
    if (!idle) common::LogWarn("agent.drain_timed_out", {});
    if (idle) common::LogInfo("agent.drained", {});
    auto drained = std::move(on_drained_);
    on_drained_ = nullptr;
    if (drained) drained();
    return;
  }
  drain_timer_.expires_after(kDrainPoll);
  drain_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->WatchDrain();
  });
}

void Channel::Stop() {
  stopped_ = true;
  retry_timer_.cancel();
  drain_timer_.cancel();
  if (auto c = current_.lock()) c->Abort();
  // Waits for a lookup in progress (at most the record source's own timeout); queued ones are
  // dropped.
  if (worker_ != nullptr) {
    worker_->Stop();
    worker_.reset();
  }
}

void Channel::SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls) {
  retired_tls_.push_back(std::move(tls_));
  tls_ = std::move(tls);
}

void Channel::Connect() {
  if (stopped_) return;
  auto c = std::make_shared<Connection>(shared_from_this());
  current_ = c;
  c->Run();
}

void Channel::OnWelcomed() {
  connected_ = true;
  ++connects_;
  backoff_ = std::chrono::milliseconds(0);
  common::LogInfo("broker.connected", {{"connects", connects_}});
  if (observer_ != nullptr) observer_->OnConnected();
}

std::chrono::milliseconds Channel::NextBackoff() {
  backoff_ = backoff_.count() == 0 ? options_.backoff_initial
                                   : std::min(backoff_ * 2, options_.backoff_max);
  // Full jitter over the upper half, so that agents cut off together do not return together.
  const auto half = backoff_.count() / 2;
  const auto jitter = static_cast<int64_t>(random_.Uniform(static_cast<uint32_t>(half + 1)));
  return std::chrono::milliseconds(half + jitter);
}

void Channel::OnConnectionClosed(bool was_welcomed) {
  connected_ = false;
  if (was_welcomed) {
    common::LogWarn("broker.disconnected", {});
    if (observer_ != nullptr) observer_->OnDisconnected();
  }
  if (stopped_ || draining_) return;
  const auto delay = NextBackoff();
  common::LogInfo("broker.reconnect_scheduled", {{"delay_ms", delay.count()}});
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Connect();
  });
}

}  // namespace mash::agent
