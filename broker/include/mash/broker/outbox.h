// The order in which sealed envelopes leave the hub for each agency.
//
// Every envelope the hub seals takes the next value of its one sequence counter, and an agent
// refuses (as replayed) an envelope whose sequence is not greater than the last it accepted from
// the hub (docs/envelope.md, "Sequence"). A query, however, leaves only once its query_sent audit
// event has committed, while receipts and chases are ready at once: sent as they became ready, a
// receipt sealed after a query could overtake it, and the agent would refuse the query.
//
// So every sealed envelope holds a ticket for its recipient, and the outbox sends ready frames to
// each agency in sequence order: a frame whose ticket is released runs its send only once every
// lower ticket of the same agency has been sent or abandoned. A ticket dropped without being
// released (its audit event failed, the agency went offline, the check is gone) is abandoned
// when its last copy is destroyed, so that it can never block the frames after it. Gaps are fine:
// the agent needs only strictly increasing sequences.
//
// Thread safety: none; the hub's io thread only. Tickets may outlive the outbox (then they do
// nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace mash::broker {

class Outbox {
 public:
  class Ticket;

  Outbox() : state_(std::make_shared<State>()) {}

  // Registers `sequence` as outstanding for `agency`. Sequences must be registered in increasing
  // order (they come from one counter).
  Ticket Register(const std::string& agency, uint64_t sequence);

  // Sequences of `agency` registered and neither sent nor abandoned (tests, diagnostics).
  size_t Outstanding(const std::string& agency) const;

 private:
  struct Queue {
    // Sequence → its send once released (empty while still outstanding).
    std::map<uint64_t, std::function<void()>> entries;
    bool flushing = false;
  };
  struct State {
    std::map<std::string, Queue> queues;
    void Release(const std::string& agency, uint64_t sequence, std::function<void()> send);
    void Abandon(const std::string& agency, uint64_t sequence);
    void Flush(const std::string& agency);
  };
  std::shared_ptr<State> state_;
};

// Copyable handle of one registered sequence; the last copy destroyed without Send abandons it.
class Outbox::Ticket {
 public:
  Ticket() = default;
  // Runs `send` now when every lower sequence of the agency is done, else once they are (on the
  // call that completes the last of them). `send` must do its own checks of what may have
  // changed meanwhile (the connection, the check). A second Send, or Send on an empty ticket,
  // does nothing.
  void Send(std::function<void()> send) const;
  // Gives the sequence up now (as when the last copy is destroyed).
  void Abandon() const;
  uint64_t sequence() const { return impl_ ? impl_->sequence : 0; }

 private:
  friend class Outbox;
  struct Impl {
    std::weak_ptr<State> state;
    std::string agency;
    uint64_t sequence = 0;
    bool done = false;
    ~Impl();
  };
  std::shared_ptr<Impl> impl_;
};

}  // namespace mash::broker
