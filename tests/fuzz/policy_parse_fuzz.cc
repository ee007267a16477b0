// libFuzzer target for the policy parser: any bytes must give a policy or diagnostics, never a
// crash, a hang or an exception. A parsed policy is also evaluated once and must re-parse to the
// same version.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mash/policy/evaluator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mash::policy::ParseOptions options;
  options.now = 1795341600;
  const mash::policy::ParseOutcome out = mash::policy::ParsePolicy(text, "fuzz.toml", options);
  if (!out.ok()) return 0;
  mash::policy::Request r;
  r.role = "practitioner";
  r.purpose = "child-protection-s47";
  r.lawful_basis = "uk-gdpr-6-1-e";
  r.consent_state = "given";
  r.urgency = "red";
  r.agency = out.policy->parties.empty() ? "" : out.policy->parties[0].id;
  r.category = "incidents";
  r.level = 2;
  (void)mash::policy::Evaluate(*out.policy, r, 1795341600);
  const mash::policy::ParseOutcome again = mash::policy::ParsePolicy(text, "fuzz.toml", options);
  if (!again.ok() || again.policy->version != out.policy->version) __builtin_trap();
  return 0;
}
