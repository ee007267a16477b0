// Long-term keys, one type per purpose (DESIGN §6): Ed25519 signing keys, X25519 encryption keys,
// and 256-bit symmetric keys (subject pseudonyms, database keys).
//
// Private halves live in SecureBuffer and are never copied implicitly, printed or logged.
// Key files (see docs/key-files.md) are text:
//   line 1: a label naming the kind, e.g. "MASH-ED25519-SECRET-V1"
//   line 2: the key bytes in base64
// Private key files are created 0600 and refused when group- or world-accessible.
//
// Thread safety: const member functions are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/encoding.h"
#include "mash/common/status.h"
#include "mash/crypto/secure_memory.h"

namespace mash::crypto {

using common::Bytes;

inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kSymmetricKeySize = 32;

// "sha256:<64 hex>" of the public key bytes: the key id used on the wire and in config.
std::string Fingerprint(std::span<const uint8_t> public_key);
// SHA-256 of `data`.
std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);

struct SigningPublicKey {
  std::array<uint8_t, kPublicKeySize> bytes{};
  std::string Fingerprint() const { return crypto::Fingerprint(bytes); }
};

struct EncryptionPublicKey {
  std::array<uint8_t, kPublicKeySize> bytes{};
  std::string Fingerprint() const { return crypto::Fingerprint(bytes); }
};

class SigningKey {
 public:
  static SigningKey Generate();
  // From a 32-byte seed. InvalidArgument when the size is wrong.
  static Result<SigningKey> FromSeed(std::span<const uint8_t> seed);

  const SigningPublicKey& Public() const { return public_; }
  std::array<uint8_t, kSignatureSize> Sign(std::span<const uint8_t> message) const;
  std::span<const uint8_t> Seed() const { return {secret_.data(), 32}; }

 private:
  SigningKey() = default;
  SecureBuffer secret_;  // libsodium's 64-byte secret key (seed || public key)
  SigningPublicKey public_;
};

// OK, or Unauthenticated("signature invalid").
Status VerifySignature(const SigningPublicKey& key, std::span<const uint8_t> message,
                       std::span<const uint8_t> signature);

class EncryptionKey {
 public:
  static EncryptionKey Generate();
  static Result<EncryptionKey> FromSecret(std::span<const uint8_t> secret);

  const EncryptionPublicKey& Public() const { return public_; }
  std::span<const uint8_t> Secret() const { return secret_.span(); }
  // Opens a libsodium sealed box addressed to this key. Unauthenticated on any failure.
  Result<SecureBuffer> Unseal(std::span<const uint8_t> sealed) const;

 private:
  EncryptionKey() = default;
  SecureBuffer secret_;
  EncryptionPublicKey public_;
};

// Seals `plaintext` to `recipient` (crypto_box_seal).
Bytes SealTo(const EncryptionPublicKey& recipient, std::span<const uint8_t> plaintext);

// A random 256-bit symmetric key (pseudonym key, database key).
SecureBuffer GenerateSymmetricKey();

// ---- key files ----
enum class KeyKind {
  kSigningSecret,
  kSigningPublic,
  kEncryptionSecret,
  kEncryptionPublic,
  kPseudonymKey,
  kDatabaseKey
};
std::string_view KeyFileLabel(KeyKind kind);  // e.g. "MASH-ED25519-SECRET-V1"
bool IsSecret(KeyKind kind);

// Writes `bytes` as a key file of `kind`. Secret kinds are created with mode 0600 (written to a
// temporary file in the same folder, fsynced, then renamed). Errors: AlreadyExists when the file
// exists and `overwrite` is false; Unavailable on I/O errors.
Status WriteKeyFile(const std::filesystem::path& path, KeyKind kind, std::span<const uint8_t> bytes,
                    bool overwrite = false);
// Reads a key file of `kind`. Errors: NotFound; FailedPrecondition when a secret file is
// readable or writable by group or others ("key file ... must not be accessible by group or
// others (chmod 600)"), or not a regular file; InvalidArgument when the label or length is wrong.
Result<SecureBuffer> ReadKeyFile(const std::filesystem::path& path, KeyKind kind);

Result<SigningKey> LoadSigningKey(const std::filesystem::path& path);
Result<SigningPublicKey> LoadSigningPublicKey(const std::filesystem::path& path);
Result<EncryptionKey> LoadEncryptionKey(const std::filesystem::path& path);
Result<EncryptionPublicKey> LoadEncryptionPublicKey(const std::filesystem::path& path);

// Generates a signing and an encryption key pair into `dir` as
//   <name>.sign.key (0600), <name>.sign.pub, <name>.enc.key (0600), <name>.enc.pub.
Status GenerateKeyPairFiles(const std::filesystem::path& dir, std::string_view name,
                            bool overwrite = false);

}  // namespace mash::crypto
