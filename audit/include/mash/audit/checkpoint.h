// Signed checkpoints of the audit log (docs/audit-format.md §Checkpoints):
//
//   mash-audit-checkpoint/v1
//   origin <origin>
//   size <tree size, decimal>
//   root <base64 of the RFC 6962 root>
//   chain <base64 of the hash chain head after the last event>
//   time <Unix milliseconds, decimal>
//   retained-from <first sequence number still held; 0 until a retention purge>
//
//   sig <key fingerprint sha256:hex> <base64 Ed25519 signature over every line above, each with
//   its "\n", the blank line excluded>
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mash/audit/merkle.h"
#include "mash/common/status.h"
#include "mash/crypto/keys.h"

namespace mash::audit {

inline constexpr std::string_view kCheckpointHeader = "mash-audit-checkpoint/v1";
inline constexpr size_t kMaxCheckpointBytes = 2048;

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  Hash chain{};
  int64_t time_ms = 0;
  uint64_t retained_from = 0;
  bool operator==(const Checkpoint&) const = default;
};

struct SignedCheckpoint {
  Checkpoint checkpoint;
  std::string key_id;  // "sha256:<hex>" of the public key
  std::array<uint8_t, crypto::kSignatureSize> signature{};
  std::string text;  // the full text, as signed and stored
  bool operator==(const SignedCheckpoint& o) const { return text == o.text; }
};

// The signed part: the body lines, each ending in "\n".
std::string CheckpointBody(const Checkpoint& c);
// InvalidArgument when the origin is not 1..128 characters of [A-Za-z0-9._:/-].
Result<SignedCheckpoint> SignCheckpoint(const Checkpoint& c, const crypto::SigningKey& key);
// Syntax only (no signature check). InvalidArgument on anything but the exact format.
Result<SignedCheckpoint> ParseCheckpoint(std::string_view text);
// Signature and key id. Unauthenticated on a bad signature or another key's id.
Status VerifyCheckpointSignature(const SignedCheckpoint& c, const crypto::SigningPublicKey& key);
// Parse then verify.
Result<SignedCheckpoint> ParseAndVerifyCheckpoint(std::string_view text,
                                                  const crypto::SigningPublicKey& key);
bool ValidOrigin(std::string_view origin);

}  // namespace mash::audit
