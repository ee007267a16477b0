// Signed policy bundles (docs/policy.md, "Bundles and signatures").
//
// A bundle is a JSON file holding a policy's TOML source, its version (the SHA-256 of the
// canonical JSON of the parsed policy) and zero or more detached Ed25519 signatures by DPO keys:
//
//   {"format":"mash-policy-bundle-v1","name":"hub.toml","source":"...","version":"sha256:...",
//    "signatures":[{"alg":"ed25519","key":"sha256:<key fingerprint>","sig":"<base64>"}]}
//
// Each signature covers SignatureMessage(version, source): the domain label, the version and the
// SHA-256 of the exact source bytes. Once trusted keys are configured, a policy is loaded only from
// a bundle with a valid signature by one of them.
//
// Thread safety: pure functions except the *File ones, which read or write one file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/crypto/keys.h"
#include "mash/policy/policy.h"

namespace mash::policy {

inline constexpr char kBundleFormat[] = "mash-policy-bundle-v1";

struct BundleSignature {
  std::string key;  // fingerprint "sha256:..."
  std::string sig;  // base64 of 64 bytes
};

struct Bundle {
  std::string name;    // source file name
  std::string source;  // TOML text
  std::string version;
  std::vector<BundleSignature> signatures;

  std::string ToJson() const;  // pretty, stable key order
  // Structure only (no verification). InvalidArgument on a malformed document.
  static Result<Bundle> FromJson(std::string_view text);
};

// "MASH-POLICY-SIGNATURE-V1\n" + version + "\n" + hex(sha256(source)).
std::string SignatureMessage(std::string_view version, std::string_view source);

// Parses `source`, and makes an unsigned bundle. InvalidArgument with the parser's errors.
Result<Bundle> MakeBundle(std::string_view source, std::string_view name);
// Adds (or replaces) the signature of `key`.
void SignBundle(Bundle& bundle, const crypto::SigningKey& key);

struct LoadedPolicy {
  Policy policy;
  Bundle bundle;
  std::vector<std::string> signers;  // fingerprints of trusted keys whose signatures verified
  std::vector<Diagnostic> warnings;
};

// Parses the bundle's source, checks its version and its signatures.
// Errors: InvalidArgument (policy does not parse); DataLoss (version does not match the source:
// tampered); Unauthenticated when `trusted` is not empty and the bundle has no signature
// ("unsigned"), a signature by a trusted key does not verify ("tampered"), or no signature is by
// a trusted key ("untrusted key").
Result<LoadedPolicy> VerifyBundle(const Bundle& bundle,
                                  const std::vector<crypto::SigningPublicKey>& trusted,
                                  const ParseOptions& options = {});

// Loads a policy from a file: a bundle (*.json) or, only when `trusted` is empty, a TOML source.
// NotFound when the file cannot be read; Unauthenticated for a TOML file when keys are
// configured; otherwise as VerifyBundle.
Result<LoadedPolicy> LoadPolicy(const std::filesystem::path& path,
                                const std::vector<crypto::SigningPublicKey>& trusted,
                                const ParseOptions& options = {});

// Writes `text` to `path` atomically: a temporary file in the same folder, fsync, rename, fsync
// of the folder. Unavailable on I/O errors.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view text);
// Reads at most `limit` bytes. NotFound / ResourceExhausted / Unavailable.
Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t limit);

}  // namespace mash::policy
