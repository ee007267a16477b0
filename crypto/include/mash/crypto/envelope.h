// The signed and encrypted envelope for everything that carries personal data (DESIGN §5).
// Byte-level format: docs/envelope.md (change both together).
//
//   header : canonical JSON bytes (EnvelopeHeader), sent as is and authenticated as AEAD data
//   key    : the 32-byte content key sealed to the recipient's X25519 key (crypto_box_seal)
//   nonce  : 24 random bytes
//   body   : XChaCha20-Poly1305(content key, nonce, plaintext, ad = header bytes)
//   sig    : Ed25519 by the sender over SignedBytes(header, key, nonce, body)
//
// Opening checks, in this order, and stops at the first failure: the signature with the key the
// caller expects for this connection (identity never comes from the payload); only then is the
// header parsed; sender id and key id equal the expected ones; the recipient id and key id are
// ours; the time window (issued no more than kMaxClockSkew in the future, not expired beyond
// kMaxClockSkew, lifetime ≤ kMaxLifetime); the replay guard (id unseen, sequence increasing);
// then decryption. Every failure is Unauthenticated with a short reason for the log (no personal
// data); what a peer is told is always the generic kPeerError.
//
// Pure: no clock and no I/O; `now` and the random source are passed in.
// Thread safety: functions are re-entrant; ReplayGuard implementations say their own.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "mash/common/clock.h"
#include "mash/common/status.h"
#include "mash/crypto/keys.h"

namespace mash::crypto {

inline constexpr int kEnvelopeVersion = 1;
inline constexpr int64_t kMaxClockSkewSeconds = 60;
inline constexpr int64_t kMaxLifetimeSeconds = 300;
inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kMaxHeaderBytes = 4096;
inline constexpr const char* kPeerError = "cannot process request";

struct EnvelopeHeader {
  int version = kEnvelopeVersion;
  std::string type;        // "query" | "answer" | "receipt" | "review_pending" | "chase"
  std::string id;          // 32 hex chars (128 random bits)
  std::string sender;      // "hub" or an agency id
  std::string sender_key;  // fingerprint of the sender's signing key
  std::string recipient;
  std::string recipient_key;  // fingerprint of the recipient's encryption key
  int64_t issued_at = 0;      // Unix seconds
  int64_t expires_at = 0;
  uint64_t sequence = 0;  // per sender, strictly increasing
  std::string check_ref;
  std::string purpose;
  std::string lawful_basis;
  std::string consent;  // consent state, or "<state>;override:<ground>"
  std::string urgency;
  std::string policy_hash;  // version of the policy that allowed the message ("" until set)

  // Canonical JSON (sorted keys, no whitespace).
  std::string Encode() const;
  // Strict: every field present with the right type, no others. InvalidArgument otherwise.
  static Result<EnvelopeHeader> Decode(std::string_view bytes);
};

struct SealedEnvelope {
  Bytes header;
  Bytes key;
  Bytes nonce;
  Bytes body;
  Bytes sig;

  // {"header":b64,"key":b64,"nonce":b64,"body":b64,"sig":b64}
  nlohmann::json ToJson() const;
  // InvalidArgument on missing fields, bad base64 or wrong sizes.
  static Result<SealedEnvelope> FromJson(const nlohmann::json& j);
  // SHA-256 over SignedBytes(): the envelope hash recorded in the audit trail.
  std::array<uint8_t, 32> Hash() const;
};

// The exact bytes the signature covers (docs/envelope.md).
Bytes SignedBytes(std::span<const uint8_t> header, std::span<const uint8_t> key,
                  std::span<const uint8_t> nonce, std::span<const uint8_t> body);

Result<SealedEnvelope> Seal(const EnvelopeHeader& header, std::span<const uint8_t> plaintext,
                            const SigningKey& sender, const EncryptionPublicKey& recipient,
                            common::RandomSource& random);

// Remembers message ids and sequence numbers per sender.
class ReplayGuard {
 public:
  virtual ~ReplayGuard() = default;
  // Records (sender, id, sequence, keep_until). AlreadyExists when the id was seen or the
  // sequence is not greater than the last one accepted from this sender; Unavailable when the
  // record cannot be stored (the message must then be refused: fail closed).
  virtual Status CheckAndRecord(const std::string& sender, const std::string& id, uint64_t sequence,
                                int64_t keep_until) = 0;
};

struct OpenExpectations {
  std::string sender;                  // from the connection's verified identity
  const SigningPublicKey* sender_key;  // registered/pinned key for that identity
  std::string self_id;
  const EncryptionKey* self_key;
  int64_t now = 0;  // Unix seconds
};

struct OpenedEnvelope {
  EnvelopeHeader header;
  SecureBuffer plaintext;
  std::array<uint8_t, 32> hash{};
};

Result<OpenedEnvelope> Open(const SealedEnvelope& envelope, const OpenExpectations& expect,
                            ReplayGuard& replay);

}  // namespace mash::crypto
