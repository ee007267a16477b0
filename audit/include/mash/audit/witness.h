// Witness: the agency side of the audit log (DESIGN §8). It holds the newest checkpoint it has
// verified and accepts a new one only with a valid signature and a consistency proof from the
// held one. Any inconsistency (a fork, a rollback, two different roots for one size) raises a
// permanent alarm: the agent must stop answering and report it.
//
// Thread safety: every member function is safe from any thread (one internal mutex).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mash/audit/checkpoint.h"
#include "mash/audit/receipt.h"
#include "mash/crypto/keys.h"

namespace mash::audit {

class Witness {
 public:
  Witness(crypto::SigningPublicKey log_key, std::string origin);

  // Restores a checkpoint kept from an earlier run (its text). Unauthenticated or
  // InvalidArgument when it does not verify; the witness then holds nothing.
  Status Restore(std::string_view checkpoint_text);

  // Verifies a checkpoint the broker presents (on connection or in a receipt) with the proof of
  // consistency from the held checkpoint's size (`proof` is ignored when nothing is held or the
  // sizes are equal). On success the newer checkpoint is held. Errors:
  //   Unauthenticated / InvalidArgument: bad signature, wrong origin, malformed, or a newer
  //     checkpoint without a consistency proof (no alarm: the checkpoint is simply not accepted);
  //   DataLoss: the log is inconsistent with what this witness saw (smaller size, a different
  //     root for the same size, a failing consistency proof). alarmed() is then true for good.
  //   FailedPrecondition: already alarmed.
  Status Observe(std::string_view checkpoint_text, const std::vector<Hash>& proof);

  // Verifies a receipt: its checkpoint through Observe (with the receipt's consistency proof,
  // which must start at the held size when one is held), then that its leaf is included in that
  // checkpoint. `expected_leaf`, when given, must equal the receipt's leaf hash.
  Status VerifyReceipt(const Receipt& receipt, const std::optional<Hash>& expected_leaf = {});

  bool alarmed() const;
  std::string alarm_reason() const;
  std::optional<SignedCheckpoint> held() const;
  // 0 when nothing is held.
  uint64_t held_size() const;

 private:
  Status ObserveLocked(std::string_view text, const std::vector<Hash>& proof,
                       SignedCheckpoint* accepted);
  Status Alarm(std::string reason);

  const crypto::SigningPublicKey key_;
  const std::string origin_;
  mutable std::mutex mu_;
  std::optional<SignedCheckpoint> held_;
  bool alarmed_ = false;
  std::string alarm_reason_;
};

// Two validly signed checkpoints of the same log that cannot both be true: same size and
// different roots, or a consistency proof that fails. Agencies compare what they hold with this
// (gossip). Returns OK when consistent, DataLoss ("split view") otherwise.
Status CompareCheckpoints(const SignedCheckpoint& a, const SignedCheckpoint& b);

}  // namespace mash::audit
