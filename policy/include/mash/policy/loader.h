// Loading the policy a daemon enforces (DESIGN §7): the broker's sharing agreement or an agent's
// disclosure policy, from a signed bundle file or from a policy store (its enforced version and,
// when published, its shadow version), verified against the DPO keys in the daemon's config.
//
// Thread safety: reads files; the returned PolicySet is immutable.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "mash/common/status.h"
#include "mash/policy/evaluator.h"

namespace mash::policy {

struct PolicySource {
  // Exactly one of the two: a bundle (*.json) or, only without trusted keys, a TOML file...
  std::filesystem::path file;
  // ...or a store folder made by `mashctl policy publish`.
  std::filesystem::path store;
  // DPO signing public key files. When empty, unsigned policies are accepted (development only;
  // the daemon logs a warning).
  std::vector<std::filesystem::path> trusted_keys;
};

struct LoadedPolicySet {
  std::shared_ptr<const PolicySet> set;
  std::vector<std::string> signers;  // of the enforced version
  std::vector<Diagnostic> warnings;  // of both versions (overdue review date, expired rules)
};

// Loads and verifies the enforced (and shadow) policy. `kind` is what the daemon needs; with
// `agency_type` set, a disclosure policy must be for that agency type. `now` (Unix seconds)
// turns an overdue review date and expired rules into warnings. Every error message names the
// file or store. Errors: InvalidArgument (no source or both, policy errors), FailedPrecondition
// (wrong kind or agency type, a store without an enforced version), NotFound (missing file or
// store), Unauthenticated / DataLoss as VerifyBundle.
Result<LoadedPolicySet> LoadPolicySet(const PolicySource& source, PolicyKind kind,
                                      const std::optional<std::string>& agency_type = {},
                                      std::optional<int64_t> now = {});

}  // namespace mash::policy
