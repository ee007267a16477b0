#include "mash/crypto/keys.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>

namespace mash::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == kPublicKeySize);
static_assert(crypto_sign_SEEDBYTES == 32);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_BYTES == kSignatureSize);
static_assert(crypto_box_PUBLICKEYBYTES == kPublicKeySize);
static_assert(crypto_box_SECRETKEYBYTES == 32);
static_assert(crypto_scalarmult_BYTES == kPublicKeySize);
static_assert(crypto_hash_sha256_BYTES == 32);

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

std::string Fingerprint(std::span<const uint8_t> public_key) {
  return "sha256:" + common::HexEncode(Sha256(public_key));
}

// ---- signing ----

SigningKey SigningKey::Generate() {
  SigningKey key;
  key.secret_ = SecureBuffer(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(key.public_.bytes.data(), key.secret_.data());
  return key;
}

Result<SigningKey> SigningKey::FromSeed(std::span<const uint8_t> seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return InvalidArgument("signing key seed must be 32 bytes");
  }
  SigningKey key;
  key.secret_ = SecureBuffer(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(key.public_.bytes.data(), key.secret_.data(), seed.data());
  return key;
}

std::array<uint8_t, kSignatureSize> SigningKey::Sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, kSignatureSize> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

Status VerifySignature(const SigningPublicKey& key, std::span<const uint8_t> message,
                       std::span<const uint8_t> signature) {
  if (signature.size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  key.bytes.data()) != 0) {
    return Unauthenticated("signature invalid");
  }
  return Status::Ok();
}

// ---- encryption ----

EncryptionKey EncryptionKey::Generate() {
  EncryptionKey key;
  key.secret_ = SecureBuffer(crypto_box_SECRETKEYBYTES);
  crypto_box_keypair(key.public_.bytes.data(), key.secret_.data());
  return key;
}

Result<EncryptionKey> EncryptionKey::FromSecret(std::span<const uint8_t> secret) {
  if (secret.size() != crypto_box_SECRETKEYBYTES) {
    return InvalidArgument("encryption secret key must be 32 bytes");
  }
  EncryptionKey key;
  key.secret_ = SecureBuffer::CopyOf(secret);
  crypto_scalarmult_base(key.public_.bytes.data(), key.secret_.data());
  return key;
}

Result<SecureBuffer> EncryptionKey::Unseal(std::span<const uint8_t> sealed) const {
  if (sealed.size() < crypto_box_SEALBYTES || secret_.size() != crypto_box_SECRETKEYBYTES) {
    return Unauthenticated("sealed box invalid");
  }
  SecureBuffer out(sealed.size() - crypto_box_SEALBYTES);
  // crypto_box_seal_open writes nothing useful into a zero-length output, but needs a pointer.
  uint8_t empty = 0;
  uint8_t* dst = out.empty() ? &empty : out.data();
  if (crypto_box_seal_open(dst, sealed.data(), sealed.size(), public_.bytes.data(),
                           secret_.data()) != 0) {
    return Unauthenticated("sealed box invalid");
  }
  return out;
}

Bytes SealTo(const EncryptionPublicKey& recipient, std::span<const uint8_t> plaintext) {
  Bytes out(plaintext.size() + crypto_box_SEALBYTES);
  crypto_box_seal(out.data(), plaintext.data(), plaintext.size(), recipient.bytes.data());
  return out;
}

SecureBuffer GenerateSymmetricKey() {
  SecureBuffer key(kSymmetricKeySize);
  randombytes_buf(key.data(), key.size());
  return key;
}

// ---- key pair files ----

Status GenerateKeyPairFiles(const std::filesystem::path& dir, std::string_view name,
                            bool overwrite) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return InvalidArgument("key pair name must be a plain file name");
  }
  const std::string base(name);
  const std::filesystem::path sign_key = dir / (base + ".sign.key");
  const std::filesystem::path sign_pub = dir / (base + ".sign.pub");
  const std::filesystem::path enc_key = dir / (base + ".enc.key");
  const std::filesystem::path enc_pub = dir / (base + ".enc.pub");

  // Check all four first so that a refusal leaves no half-written set behind.
  if (!overwrite) {
    for (const auto& p : {sign_key, sign_pub, enc_key, enc_pub}) {
      struct stat st {};
      if (::lstat(p.c_str(), &st) == 0) {
        return AlreadyExists("key file " + p.string() + " already exists");
      }
      if (errno != ENOENT) {
        return Unavailable("cannot stat " + p.string() + ": " +
                           std::generic_category().message(errno));
      }
    }
  }

  const SigningKey signing = SigningKey::Generate();
  const EncryptionKey encryption = EncryptionKey::Generate();
  // Secret halves first: a public file without its secret is useless, the reverse is not.
  MASH_RETURN_IF_ERROR(WriteKeyFile(sign_key, KeyKind::kSigningSecret, signing.Seed(), overwrite));
  MASH_RETURN_IF_ERROR(
      WriteKeyFile(enc_key, KeyKind::kEncryptionSecret, encryption.Secret(), overwrite));
  MASH_RETURN_IF_ERROR(
      WriteKeyFile(sign_pub, KeyKind::kSigningPublic, signing.Public().bytes, overwrite));
  MASH_RETURN_IF_ERROR(
      WriteKeyFile(enc_pub, KeyKind::kEncryptionPublic, encryption.Public().bytes, overwrite));
  return Status::Ok();
}

}  // namespace mash::crypto
