#include "mash/audit/witness.h"

#include "mash/common/log.h"

namespace mash::audit {

Witness::Witness(crypto::SigningPublicKey log_key, std::string origin)
    : key_(log_key), origin_(std::move(origin)) {}

Status Witness::Restore(std::string_view checkpoint_text) {
  std::lock_guard lock(mu_);
  held_.reset();
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint c, ParseAndVerifyCheckpoint(checkpoint_text, key_));
  if (c.checkpoint.origin != origin_) return InvalidArgument("checkpoint of another log");
  held_ = std::move(c);
  return Status::Ok();
}

Status Witness::Alarm(std::string reason) {
  alarmed_ = true;
  alarm_reason_ = reason;
  common::LogError("audit.witness.alarm", {{"reason", reason}});
  return DataLoss("audit log inconsistent: " + reason);
}

Status Witness::ObserveLocked(std::string_view text, const std::vector<Hash>& proof,
                              SignedCheckpoint* accepted) {
  if (alarmed_) return FailedPrecondition("audit log alarm raised: " + alarm_reason_);
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint c, ParseAndVerifyCheckpoint(text, key_));
  if (c.checkpoint.origin != origin_) return InvalidArgument("checkpoint of another log");
  if (held_) {
    const Checkpoint& old = held_->checkpoint;
    const Checkpoint& now = c.checkpoint;
    if (now.size < old.size) {
      // An older checkpoint is fine only if it is not a fork; it cannot be checked without a
      // proof in the other direction, so refuse it (a broker always presents its newest).
      return Alarm("checkpoint size " + std::to_string(now.size) + " below held size " +
                   std::to_string(old.size));
    }
    if (now.size == old.size) {
      if (now.root != old.root) return Alarm("two roots for size " + std::to_string(now.size));
    } else if (old.size == 0) {
      // Nothing to prove from an empty tree.
    } else if (proof.empty()) {
      // Not proven either way: refuse the checkpoint without an alarm. A broker that never
      // proves gets no receipt accepted, so the agent stops answering anyway (fail closed).
      return InvalidArgument("consistency proof missing");
    } else {
      Status s = VerifyConsistency(old.size, now.size, proof, old.root, now.root);
      if (!s.ok()) {
        return Alarm("consistency proof from " + std::to_string(old.size) + " to " +
                     std::to_string(now.size) + " failed");
      }
    }
    if (now.retained_from < old.retained_from) {
      return Alarm("retained-from went backwards");
    }
    if (now.size == old.size) {
      *accepted = *held_;
      return Status::Ok();
    }
  }
  held_ = c;
  *accepted = std::move(c);
  return Status::Ok();
}

Status Witness::Observe(std::string_view checkpoint_text, const std::vector<Hash>& proof) {
  std::lock_guard lock(mu_);
  SignedCheckpoint accepted;
  return ObserveLocked(checkpoint_text, proof, &accepted);
}

Status Witness::VerifyReceipt(const Receipt& receipt, const std::optional<Hash>& expected_leaf) {
  std::lock_guard lock(mu_);
  if (expected_leaf && *expected_leaf != receipt.leaf_hash) {
    return InvalidArgument("receipt is for another event");
  }
  std::vector<Hash> proof;
  if (held_ && receipt.consistency) {
    if (receipt.consistency->from != held_->checkpoint.size) {
      return InvalidArgument("consistency proof does not start at the held checkpoint");
    }
    proof = receipt.consistency->proof;
  }
  SignedCheckpoint accepted;
  MASH_RETURN_IF_ERROR(ObserveLocked(receipt.checkpoint, proof, &accepted));
  // The checkpoint in the receipt equals the held one or is newer; check inclusion against the
  // receipt's own checkpoint.
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint c, ParseCheckpoint(receipt.checkpoint));
  Status s = VerifyInclusion(receipt.seq, c.checkpoint.size, receipt.leaf_hash, receipt.inclusion,
                             c.checkpoint.root);
  if (!s.ok()) return Unauthenticated("receipt inclusion proof invalid");
  return Status::Ok();
}

bool Witness::alarmed() const {
  std::lock_guard lock(mu_);
  return alarmed_;
}

std::string Witness::alarm_reason() const {
  std::lock_guard lock(mu_);
  return alarm_reason_;
}

std::optional<SignedCheckpoint> Witness::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

uint64_t Witness::held_size() const {
  std::lock_guard lock(mu_);
  return held_ ? held_->checkpoint.size : 0;
}

Status CompareCheckpoints(const SignedCheckpoint& a, const SignedCheckpoint& b) {
  if (a.checkpoint.origin != b.checkpoint.origin) return Status::Ok();  // different logs
  if (a.checkpoint.size == b.checkpoint.size && a.checkpoint.root != b.checkpoint.root) {
    return DataLoss("split view: two roots for size " + std::to_string(a.checkpoint.size));
  }
  return Status::Ok();
}

}  // namespace mash::audit
