// AuditSink: the narrow door through which sessions reach the audit log (STYLE "Secrets behind a
// narrow door"). A broker session holds an AuditSink, never the database or the checkpoint key:
// it can append an event (and release its answer only from the callback, when the event has
// committed), get a receipt for it, and get what an agent needs on connection (the newest seal
// and a consistency proof from the checkpoint the agent holds).
//
// Thread safety: implementations are safe from any thread.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "mash/audit/checkpoint.h"
#include "mash/audit/event.h"
#include "mash/audit/receipt.h"

namespace mash::audit {

class AuditSink {
 public:
  using Callback = std::function<void(Result<uint64_t>)>;
  virtual ~AuditSink() = default;
  // Queues `event`; `done` gets the sequence number once committed, or the error (fail closed).
  virtual void Append(AuditEvent event, Callback done) = 0;
  virtual Result<Receipt> MakeReceipt(uint64_t seq, uint64_t held_size) = 0;
  virtual std::optional<SignedCheckpoint> LatestSeal() const = 0;
  // The canonical encoding of committed event `seq`, as hashed into its leaf (what a receipt
  // carries so that the agency can check the leaf itself). NotFound when not committed or purged.
  virtual Result<Bytes> EncodedEvent(uint64_t seq) const = 0;
  virtual Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size,
                                                     uint64_t new_size) const = 0;
};

}  // namespace mash::audit
