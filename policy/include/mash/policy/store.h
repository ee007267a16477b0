// The policy store: every published version of one policy, kept forever, and the history of
// publications (docs/policy.md, "Store layout").
//
//   STORE/versions/<64 hex>.json   the signed bundle of each version ever published
//   STORE/history.jsonl            one JSON object per publication, append-only
//   STORE/enforced, STORE/shadow   the current version ids ("sha256:..."), or absent
//
// Files are written atomically (temporary file, fsync, rename). The store takes time as a
// parameter and reads no clock.
//
// Thread safety: one writer at a time (the DPO's mashctl); readers see whole files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/policy/bundle.h"

namespace mash::policy {

enum class PublishMode { kShadow, kEnforce };
std::string_view PublishModeName(PublishMode m);  // "shadow" / "enforce"

struct HistoryEntry {
  int64_t seq = 0;
  int64_t time_unix = 0;
  PublishMode mode = PublishMode::kEnforce;
  std::string version;
  std::string policy_id;
  std::vector<std::string> signers;
};

class PolicyStore {
 public:
  // Opens (creating when `create`) the store folder. NotFound when absent and not `create`.
  static Result<PolicyStore> Open(const std::filesystem::path& dir, bool create);

  // Verifies the bundle against `trusted` (see VerifyBundle), keeps it under versions/, appends
  // the history entry and moves the pointer. Publishing as enforce clears a shadow of the same
  // version. FailedPrecondition when the store holds another policy id, or time goes backwards.
  Result<HistoryEntry> Publish(const Bundle& bundle, PublishMode mode, int64_t time_unix,
                               const std::vector<crypto::SigningPublicKey>& trusted);

  Result<std::vector<HistoryEntry>> History() const;
  // The version enforced at `time_unix`: the last enforce entry at or before it. NotFound if none.
  Result<std::string> VersionAt(int64_t time_unix) const;
  std::optional<std::string> Enforced() const;
  std::optional<std::string> Shadow() const;
  // A stored version, verified against `trusted` as at publication.
  Result<LoadedPolicy> Load(std::string_view version,
                            const std::vector<crypto::SigningPublicKey>& trusted) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  explicit PolicyStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace mash::policy
