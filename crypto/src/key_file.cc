// Key files: "<label>\n<base64>\n" (docs/key-files.md). The file handling (0600 and atomic on
// write; no symlinks, no loose modes and a size cap on read) is common/private_file.h; public key
// files go through it too, as FileAccess::kWorldReadable.
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "mash/common/private_file.h"
#include "mash/crypto/keys.h"

namespace mash::crypto {
namespace {

// Every kind holds 32 bytes: a signing key file keeps the Ed25519 seed, not libsodium's 64-byte
// expanded secret, so that the file cannot hold a public half that disagrees with the seed.
constexpr size_t kKeyFileKeyBytes = 32;
// A well-formed file is under 80 bytes; the cap bounds what a hostile file can make us read.
constexpr size_t kMaxKeyFileBytes = 1024;

common::FileAccess AccessOf(KeyKind kind) {
  return IsSecret(kind) ? common::FileAccess::kOwnerOnly : common::FileAccess::kWorldReadable;
}

}  // namespace

std::string_view KeyFileLabel(KeyKind kind) {
  switch (kind) {
    case KeyKind::kSigningSecret:
      return "MASH-ED25519-SECRET-V1";
    case KeyKind::kSigningPublic:
      return "MASH-ED25519-PUBLIC-V1";
    case KeyKind::kEncryptionSecret:
      return "MASH-X25519-SECRET-V1";
    case KeyKind::kEncryptionPublic:
      return "MASH-X25519-PUBLIC-V1";
    case KeyKind::kPseudonymKey:
      return "MASH-PSEUDONYM-KEY-V1";
    case KeyKind::kDatabaseKey:
      return "MASH-DATABASE-KEY-V1";
  }
  return "MASH-UNKNOWN";
}

bool IsSecret(KeyKind kind) {
  return kind != KeyKind::kSigningPublic && kind != KeyKind::kEncryptionPublic;
}

Status WriteKeyFile(const std::filesystem::path& path, KeyKind kind, std::span<const uint8_t> bytes,
                    bool overwrite) {
  if (bytes.size() != kKeyFileKeyBytes) {
    return InvalidArgument("key for " + std::string(KeyFileLabel(kind)) + " must be 32 bytes");
  }
  // The whole text is assembled in secure memory: the base64 form is as secret as the key.
  const std::string_view label = KeyFileLabel(kind);
  const size_t b64_len = sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  SecureBuffer text(label.size() + 1 + b64_len);  // b64_len counts a NUL, replaced by '\n'
  std::memcpy(text.data(), label.data(), label.size());
  text.data()[label.size()] = '\n';
  char* b64 = reinterpret_cast<char*>(text.data() + label.size() + 1);
  sodium_bin2base64(b64, b64_len, bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  text.data()[text.size() - 1] = '\n';

  return common::WritePrivateFile(path, common::AsString(text.span()), overwrite, AccessOf(kind))
      .WithContext("key file");
}

Result<SecureBuffer> ReadKeyFile(const std::filesystem::path& path, KeyKind kind) {
  const std::string name = "key file " + path.string();
  SecureBuffer text(kMaxKeyFileBytes);
  const Result<size_t> len =
      common::ReadPrivateFileInto(path, {text.data(), text.size()}, AccessOf(kind));
  if (!len.ok()) return len.status().WithContext("key file");

  // Error messages never quote the file: its second line is the key.
  const std::string_view content = common::AsString(std::span<const uint8_t>(text.data(), *len));
  const std::string_view label = KeyFileLabel(kind);
  const size_t nl = content.find('\n');
  if (nl == std::string_view::npos || content.substr(0, nl) != label) {
    return InvalidArgument(name + " does not start with the label " + std::string(label));
  }
  std::string_view b64 = content.substr(nl + 1);
  // One final newline is expected; tolerate its absence, nothing else.
  if (!b64.empty() && b64.back() == '\n') b64.remove_suffix(1);
  if (b64.empty() || b64.find('\n') != std::string_view::npos) {
    return InvalidArgument(name + " must hold exactly one line of base64 after the label");
  }
  SecureBuffer decoded(b64.size() / 4 * 3 + 3);
  size_t decoded_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(decoded.data(), decoded.size(), b64.data(), b64.size(), nullptr,
                        &decoded_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size()) {
    return InvalidArgument(name + " holds invalid base64");
  }
  if (decoded_len != kKeyFileKeyBytes) {
    return InvalidArgument(name + " holds a key of the wrong length (want 32 bytes)");
  }
  return SecureBuffer::CopyOf(std::span<const uint8_t>(decoded.data(), decoded_len));
}

Result<SigningKey> LoadSigningKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer seed, ReadKeyFile(path, KeyKind::kSigningSecret));
  return SigningKey::FromSeed(seed.span());
}

Result<SigningPublicKey> LoadSigningPublicKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer bytes, ReadKeyFile(path, KeyKind::kSigningPublic));
  SigningPublicKey key;
  std::copy(bytes.span().begin(), bytes.span().end(), key.bytes.begin());
  return key;
}

Result<EncryptionKey> LoadEncryptionKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer secret, ReadKeyFile(path, KeyKind::kEncryptionSecret));
  return EncryptionKey::FromSecret(secret.span());
}

Result<EncryptionPublicKey> LoadEncryptionPublicKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer bytes, ReadKeyFile(path, KeyKind::kEncryptionPublic));
  EncryptionPublicKey key;
  std::copy(bytes.span().begin(), bytes.span().end(), key.bytes.begin());
  return key;
}

}  // namespace mash::crypto
