// The agent's one connection to the hub: it dials out (agents accept no inbound connections),
// over WebSocket on mutual TLS 1.3, verifies the broker's certificate name and the pinned hub
// CA, says hello, checks the welcome against the pinned broker keys and lets the Responder check
// its audit checkpoint, answers queries and hands receipts to the Responder, and pings every ping
// interval. A welcome whose checkpoint the Responder does not accept ends the connection, unless
// the witness alarm is raised: then the connection stays and every query gets "unavailable".
// Dialling (lookup, TCP, an HTTP proxy's CONNECT when [broker] proxy is set, TLS, WebSocket) is
// dial.h's AsyncDial, shared with `mash-agent test-connection`.
// Any failure closes the connection and a new one is tried after a jittered exponential backoff
// (full jitter between half and all of the current delay, doubling up to the maximum, reset after
// a welcome). While welcomed it asks the Responder every review_poll_interval for the follow-up
// answers of review items the custodian has decided (another process writes the decisions to
// the database) and sends them. Chases from the hub go to the Responder, which marks a pending
// review item chased; nothing is sent back, and a chase that does not verify is dropped.
//
// Queries are opened on the io thread, their records looked up on a LookupWorker (so that a slow
// record source never holds pings or other queries), and their answers sealed back on the io
// thread. A full lookup queue answers `unavailable`.
//
// Thread safety: runs on one io_context thread; Start/Stop must be called on it. Stop waits for
// a lookup in progress.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/config.h"
#include "mash/agent/lookup_worker.h"
#include "mash/agent/metrics.h"
#include "mash/agent/responder.h"
#include "mash/common/clock.h"

namespace mash::agent {

struct ChannelOptions {
  BrokerUrl broker;
  // Tunnel through this HTTP proxy, with this Proxy-Authorization value (secret) when not empty.
  std::optional<ProxyUrl> proxy;
  std::string proxy_authorization;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds ping_interval{20000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_queue = 256;
  std::chrono::milliseconds review_poll_interval{1000};
  size_t lookup_queue = LookupWorker::kDefaultQueue;  // queries waiting for the record source
};

class Connection;

// What the channel reports of its life, for `mash-agent status` (status.h). Called on the io
// thread; implementations must not block for long.
class ChannelObserver {
 public:
  virtual ~ChannelObserver() = default;
  virtual void OnConnected() = 0;     // a welcome was accepted
  virtual void OnDisconnected() = 0;  // a welcomed connection ended
  virtual void OnQuery() = 0;         // a query frame arrived
  virtual void OnAnswerSent() = 0;    // an answer frame was queued for the broker
  // A chase frame arrived: `accepted` when it verified and was handled (Responder::OnChase),
  // false when it was refused (and dropped).
  virtual void OnChase(bool accepted) = 0;
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  Channel(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
          ChannelOptions options, Responder* responder, common::RandomSource& random);
  ~Channel();

  void Start();
  void Stop();
  // SIGTERM: queries that arrive from now on are answered `unavailable` without being opened
  // (the hub sends them again after the restart), no new connection is made, and `drained`
  // runs on the io thread once the answers being computed have been sealed and written (or the
  // connection ended), or `bound` has passed; the caller then calls Stop(). Once only.
  void Drain(std::chrono::milliseconds bound, std::function<void()> drained);
  bool draining() const { return draining_; }
  // Optional; must outlive the channel's connections. Set before Start.
  void set_observer(ChannelObserver* observer) { observer_ = observer; }
  // Optional (metrics.h): answer latency and the queries the lookup queue could not take. Must
  // outlive the channel's connections. Set before Start.
  void set_metrics(AgentMetrics* metrics) { metrics_ = metrics; }
  // Connections from now on use `tls` (a renewed certificate); the current one is left alone.
  void SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls);
  bool connected() const { return connected_; }
  int connects() const { return connects_; }  // welcomes received, for status and tests

 private:
  friend class Connection;
  void Connect();
  void OnConnectionClosed(bool was_welcomed);
  void OnWelcomed();
  std::chrono::milliseconds NextBackoff();
  void WatchDrain();

  static constexpr std::chrono::milliseconds kDrainPoll{50};

  boost::asio::io_context& io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  // Replaced contexts, kept while a connection made with them may still be open.
  std::vector<std::shared_ptr<boost::asio::ssl::context>> retired_tls_;
  ChannelOptions options_;
  Responder* responder_;
  ChannelObserver* observer_ = nullptr;
  AgentMetrics* metrics_ = nullptr;
  common::RandomSource& random_;
  std::unique_ptr<LookupWorker> worker_;  // from Start to Stop
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::function<void()> on_drained_;
  bool draining_ = false;
  std::weak_ptr<Connection> current_;
  std::chrono::milliseconds backoff_{0};
  bool stopped_ = true;
  bool connected_ = false;
  int connects_ = 0;
};

}  // namespace mash::agent
