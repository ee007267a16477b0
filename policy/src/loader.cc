#include "mash/policy/loader.h"

#include "mash/policy/bundle.h"
#include "mash/policy/store.h"

namespace mash::policy {
namespace {

Status CheckKind(const Policy& p, PolicyKind kind, const std::optional<std::string>& agency_type,
                 std::string_view which) {
  if (p.kind != kind) {
    return FailedPrecondition(
        std::string(which) + " policy '" + p.id + "' is not a " +
        (kind == PolicyKind::kSharingAgreement ? "sharing agreement" : "disclosure policy"));
  }
  if (agency_type && p.kind == PolicyKind::kDisclosurePolicy && p.agency_type != *agency_type) {
    return FailedPrecondition(std::string(which) + " policy '" + p.id + "' is for agency type '" +
                              p.agency_type + "', not '" + *agency_type + "'");
  }
  return Status::Ok();
}

}  // namespace

Result<LoadedPolicySet> LoadPolicySet(const PolicySource& source, PolicyKind kind,
                                      const std::optional<std::string>& agency_type,
                                      std::optional<int64_t> now) {
  if (source.file.empty() == source.store.empty()) {
    return InvalidArgument("give a policy file or a policy store, not both or neither");
  }
  std::vector<crypto::SigningPublicKey> trusted;
  for (const auto& path : source.trusted_keys) {
    auto key = crypto::LoadSigningPublicKey(path);
    if (!key.ok()) return key.status().WithContext("policy trusted key " + path.string());
    trusted.push_back(std::move(*key));
  }
  ParseOptions options;
  options.now = now;
  LoadedPolicySet out;
  std::shared_ptr<const Policy> enforced;
  std::shared_ptr<const Policy> shadow;
  if (!source.file.empty()) {
    auto loaded = LoadPolicy(source.file, trusted, options);
    if (!loaded.ok()) return loaded.status().WithContext("policy " + source.file.string());
    out.signers = loaded->signers;
    out.warnings = loaded->warnings;
    enforced = std::make_shared<const Policy>(std::move(loaded->policy));
  } else {
    auto store = PolicyStore::Open(source.store, /*create=*/false);
    if (!store.ok()) return store.status().WithContext("policy store " + source.store.string());
    const auto version = store->Enforced();
    if (!version) {
      return FailedPrecondition("policy store " + source.store.string() +
                                " has no enforced version (mashctl policy publish --mode enforce)");
    }
    auto loaded = store->Load(*version, trusted);
    if (!loaded.ok()) return loaded.status().WithContext("policy store enforced " + *version);
    out.signers = loaded->signers;
    out.warnings = loaded->warnings;
    enforced = std::make_shared<const Policy>(std::move(loaded->policy));
    if (const auto shadow_version = store->Shadow()) {
      auto s = store->Load(*shadow_version, trusted);
      if (!s.ok()) return s.status().WithContext("policy store shadow " + *shadow_version);
      out.warnings.insert(out.warnings.end(), s->warnings.begin(), s->warnings.end());
      shadow = std::make_shared<const Policy>(std::move(s->policy));
    }
  }
  MASH_RETURN_IF_ERROR(CheckKind(*enforced, kind, agency_type, "enforced"));
  if (shadow) MASH_RETURN_IF_ERROR(CheckKind(*shadow, kind, agency_type, "shadow"));
  out.set = std::make_shared<const PolicySet>(std::move(enforced), std::move(shadow));
  return out;
}

}  // namespace mash::policy
