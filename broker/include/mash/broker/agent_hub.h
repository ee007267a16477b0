// The agent hub: agents dial in over WebSocket (Beast) on mutual TLS 1.3 at /agent/v1.
//
// An agency is identified only by its verified client certificate (SAN URI
// urn:mash:agency:<id>) and the key fingerprints registered for it; the hello's "agency" must
// equal the certificate's, or the connection is refused and the mismatch logged.
//
// Per connection: a deadline on the TLS handshake, the HTTP upgrade and the hello; an idle
// deadline on reads afterwards (agents ping every ping_interval_s); a stall deadline on each
// write; one write in flight and a bounded queue (a full queue closes the session: a peer that
// does not read is dropped, not buffered without end). Caps on connections in total, on
// connections not yet welcomed (in total and per source address, so that peers without a
// certificate cannot take every slot), and on authenticated connections per agency. Frames are
// limited in size by the WebSocket layer before anything is allocated for them, and parsed only
// after CheckJsonShape.
//
// Thread safety: the hub and its sessions run on one io_context thread (the broker's event
// loop); public functions must be called on that thread (post to it from elsewhere).
// Lifetime: `events` must outlive every handler the hub has queued, i.e. until io.run() returns.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/crypto/envelope.h"
#include "mash/schemas/messages.h"

namespace mash::broker {

class AgentSession;

// What the hub reports upward. Called on the hub's thread.
class AgentEvents {
 public:
  virtual ~AgentEvents() = default;
  virtual void OnAgentOnline(const std::string& agency) = 0;
  virtual void OnAgentOffline(const std::string& agency) = 0;
  // A welcomed connection of `agency` closed. Frames sent over it (Send returned `session`) that
  // have not been answered may never have been read.
  virtual void OnSessionClosed(const std::string& agency, uint64_t session) = 0;
  // An answer envelope from `agency`'s authenticated connection, not yet opened. A non-OK
  // result is reported to the agent as a generic error.
  virtual Status OnAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope) = 0;
  // A review_pending envelope from `agency`'s authenticated connection, not yet opened: categories
  // of an answer wait for the agency's custodian. A non-OK result is reported to the agent as a
  // generic error.
  virtual Status OnReviewPending(const std::string& agency,
                                 const crypto::SealedEnvelope& envelope) = 0;
  // An authenticated hello from `agency` on connection `session`, before its welcome: what the
  // welcome says of the audit log (the newest signed checkpoint and the consistency proof from
  // the checkpoint the hello names), or nullopt when the log has nothing signed yet.
  virtual std::optional<schemas::WelcomeAudit> OnHello(const std::string& agency, uint64_t session,
                                                       const schemas::Hello& hello) = 0;
  // A welcomed connection of `agency` sent its first frame after the welcome (a ping, an answer
  // or a review_pending): an agent is reading and answering on it, not a probe that closes after
  // the welcome (`mash-agent test-connection`). Receipts go only to such connections.
  virtual void OnSessionActive(const std::string& agency, uint64_t session) = 0;
};

struct AgentHubOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                 // 0: any free port (tests)
  int max_connections = 256;         // sessions in total, authenticated or not
  int max_pending = 64;              // sessions not yet welcomed (TLS, upgrade, hello)
  int max_pending_per_address = 16;  // of those, from one source address
  int max_connections_per_agency = 2;
  size_t max_queue = 256;
  size_t max_frame_bytes = schemas::kMaxFrameBytes;
  int max_protocol_errors = 8;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
  schemas::Welcome welcome;
};

// true when `sign_fp` and `enc_fp` are the fingerprints registered for `agency`.
using KeyCheck = std::function<bool(const std::string& agency, const std::string& sign_fp,
                                    const std::string& enc_fp)>;

class AgentHub : public std::enable_shared_from_this<AgentHub> {
 public:
  // Binds and starts accepting. Errors: Unavailable when the address cannot be bound.
  static Result<std::shared_ptr<AgentHub>> Start(boost::asio::io_context& io,
                                                 std::shared_ptr<boost::asio::ssl::context> tls,
                                                 AgentHubOptions options, KeyCheck key_check,
                                                 AgentEvents* events);
  ~AgentHub();

  uint16_t port() const { return port_; }
  // Stops accepting and closes every session.
  void Stop();
  // Stops accepting new connections; the open ones go on (a draining broker: SIGTERM).
  void StopAccepting();
  // The TLS context (certificate, key, CA, CRLs) for connections accepted from now on; each open
  // connection keeps the one it was accepted with (a reload: SIGHUP).
  void SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls);

  // Called once per frame sent with Send: true when it was written to the connection, false when
  // the connection closed first (the frame may then be sent again on a new connection).
  using Delivery = std::function<void(bool written)>;

  // Queues a text frame to the agency's current connection (the newest it answers on, else the
  // newest) and returns that connection's number (never 0). 0 when it is not connected or its queue
  // is full (the session is then closed); `delivered` is not called then.
  uint64_t Send(const std::string& agency, std::string frame, Delivery delivered = {});
  // Queues a text frame to connection `session` of `agency` only; `session` when queued, 0 when
  // that connection is gone or its queue is full (`delivered` is not called then).
  uint64_t SendTo(const std::string& agency, uint64_t session, std::string frame,
                  Delivery delivered = {});
  // The newest connection of `agency` that has sent a frame since its welcome (see
  // AgentEvents::OnSessionActive), or 0.
  uint64_t ActiveSession(const std::string& agency) const;
  bool IsOnline(const std::string& agency) const;
  std::vector<std::string> Online() const;
  int connection_count() const { return connections_; }

 private:
  friend class AgentSession;
  AgentHub(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
           AgentHubOptions options, KeyCheck key_check, AgentEvents* events);
  void DoAccept();

  // Called by sessions.
  bool Attach(const std::string& agency, const std::shared_ptr<AgentSession>& session);
  void Detach(const std::string& agency, const AgentSession* session);
  void SessionOpened(AgentSession* s, const std::string& address);
  void SessionWelcomed(AgentSession* s);
  void SessionClosed(AgentSession* s);
  // Makes room for a new connection from `address`: closes the oldest pending session (of that
  // address when its cap is the one reached). False when it must be refused instead (every slot
  // is held by a welcomed agent).
  bool AdmitNewConnection(const std::string& address);
  void LogShed(std::string_view why);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  boost::asio::io_context& io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  AgentHubOptions options_;
  KeyCheck key_check_;
  AgentEvents* events_;
  uint16_t port_ = 0;
  int connections_ = 0;
  uint64_t next_session_ = 1;
  bool stopped_ = false;
  bool accepting_ = true;  // false once StopAccepting: sessions go on, no new ones
  std::set<AgentSession*> sessions_;
  // Sessions not yet welcomed, with their source address: an unauthenticated peer can hold
  // only these slots, never the ones agencies need once they are in.
  struct Pending {
    std::string address;
    uint64_t order;  // accept order: the smallest is the oldest
  };
  std::map<AgentSession*, Pending> pending_;
  std::map<std::string, int> pending_by_address_;
  // Failed accepts and shed connections, counted between rate-limited log lines.
  uint64_t accept_failures_ = 0;
  uint64_t shed_ = 0;
  std::chrono::steady_clock::time_point last_accept_log_{};
  std::chrono::steady_clock::time_point last_shed_log_{};
  // Refused connections before a welcome (TLS, upgrade, hello): rate-limited lines.
  uint64_t refusals_unlogged_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  // Attached (welcomed) sessions per agency, newest last; frames go to the newest active one.
  std::map<std::string, std::vector<std::weak_ptr<AgentSession>>> attached_;
};

}  // namespace mash::broker
