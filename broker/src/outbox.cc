#include "mash/broker/outbox.h"

#include <utility>

namespace mash::broker {

Outbox::Ticket Outbox::Register(const std::string& agency, uint64_t sequence) {
  state_->queues[agency].entries.emplace(sequence, nullptr);
  Ticket t;
  t.impl_ = std::make_shared<Ticket::Impl>();
  t.impl_->state = state_;
  t.impl_->agency = agency;
  t.impl_->sequence = sequence;
  return t;
}

size_t Outbox::Outstanding(const std::string& agency) const {
  const auto it = state_->queues.find(agency);
  return it == state_->queues.end() ? 0 : it->second.entries.size();
}

void Outbox::State::Release(const std::string& agency, uint64_t sequence,
                            std::function<void()> send) {
  const auto q = queues.find(agency);
  if (q == queues.end()) return;
  const auto it = q->second.entries.find(sequence);
  if (it == q->second.entries.end()) return;
  // A released ticket with nothing to send is the same as an abandoned one.
  if (!send) {
    q->second.entries.erase(it);
  } else {
    it->second = std::move(send);
  }
  Flush(agency);
}

void Outbox::State::Abandon(const std::string& agency, uint64_t sequence) {
  const auto q = queues.find(agency);
  if (q == queues.end()) return;
  q->second.entries.erase(sequence);
  Flush(agency);
}

void Outbox::State::Flush(const std::string& agency) {
  // A send may register, release or abandon tickets of this agency (a connection that closes
  // while sending puts its queries back in line); the outer loop then carries on with them.
  {
    auto& queue = queues[agency];
    if (queue.flushing) return;
    queue.flushing = true;
  }
  for (;;) {
    auto& queue = queues[agency];
    if (queue.entries.empty() || !queue.entries.begin()->second) {
      queue.flushing = false;
      if (queue.entries.empty()) queues.erase(agency);
      return;
    }
    std::function<void()> send = std::move(queue.entries.begin()->second);
    queue.entries.erase(queue.entries.begin());
    send();
  }
}

void Outbox::Ticket::Send(std::function<void()> send) const {
  if (!impl_ || impl_->done) return;
  impl_->done = true;
  if (auto state = impl_->state.lock())
    state->Release(impl_->agency, impl_->sequence, std::move(send));
}

void Outbox::Ticket::Abandon() const {
  if (!impl_ || impl_->done) return;
  impl_->done = true;
  if (auto state = impl_->state.lock()) state->Abandon(impl_->agency, impl_->sequence);
}

Outbox::Ticket::Impl::~Impl() {
  if (done) return;
  if (auto s = state.lock()) s->Abandon(agency, sequence);
}

}  // namespace mash::broker
