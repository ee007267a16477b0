// The agency's disclosure policy at the agent (DESIGN §4 step 4, §7; docs/agent.md): loading the
// enforced and shadow versions, reading the consent field of a query, and turning the enforced
// decision on one data category into what the answer says about that category.
//
// Pure except LoadDisclosurePolicies, which reads the policy files and key files; no clock (time
// is passed in). Thread safety: functions; a PolicySet is immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mash/agent/config.h"
#include "mash/agent/records.h"
#include "mash/common/status.h"
#include "mash/crypto/envelope.h"
#include "mash/policy/evaluator.h"
#include "mash/schemas/messages.h"

namespace mash::agent {

// The envelope header's consent field: "<state>" or "<state>;override:<ground>"
// (docs/envelope.md), e.g. "not_sought;override:child_significant_harm".
struct ConsentTag {
  std::string state;            // given | refused | not_sought | withdrawn
  std::string override_ground;  // one of the four grounds, or "" for none
};

// Parses a consent field. The state and the ground must be vocabulary ids (a garbled state
// would otherwise slip past a forbid on refused consent). InvalidArgument, naming no value.
Result<ConsentTag> ParseConsentTag(std::string_view tag);

// Loads the disclosure policy named by `source`: the file (bundle, or TOML only without trusted
// keys), or the store's enforced version and, when set, its shadow version, each verified
// against the trusted keys. Both must be disclosure policies for `agency_type`.
// Errors: InvalidArgument (no source, or the policy does not parse), NotFound (a file or key is
// missing), Unauthenticated (unsigned, tampered signature or untrusted signer while keys are
// configured; a TOML file with keys), DataLoss (bundle version does not match its source),
// FailedPrecondition (not a disclosure policy, another agency type, or a store without an
// enforced version). Warnings (e.g. a passed review date at `now_unix`) are logged.
Result<std::shared_ptr<const policy::PolicySet>> LoadDisclosurePolicies(
    const PolicySource& source, std::string_view agency_type, int64_t now_unix);

// The policy request for one category of a query: purpose, lawful basis, urgency from the
// verified header, the parsed consent, the category and the level asked for. The header carries
// no role, so role is "".
policy::Request MakeDisclosureRequest(const crypto::EnvelopeHeader& header,
                                      const ConsentTag& consent, std::string_view category,
                                      int level);

// True when the enforced decision sends the category to the agency's custodian rather than out:
// a permit with custodian_review or second_approver, or a never_without_custodian category.
bool NeedsCustodian(const policy::Policy& policy, const policy::Decision& decision,
                    std::string_view category);

// What the answer says about one held category under the enforced `decision`:
//   deny       -> "withheld", no content, reason from the decision, rule (or "default-deny");
//   custodian  -> "review", no content, reason says it waits for the custodian;
//   permit     -> content by the GRANTED level (1 summary, 2 also latest, 3 also records),
//                 `level` = granted level; "redacted" with the redact:<field> fields removed
//                 from every record object, else "shared".
schemas::CategoryAnswer Disclose(const policy::Policy& policy, const policy::Decision& decision,
                                 const std::string& category, const CategoryRecords& held);

// The deciding rule as the answer names it: the rule id, or "default-deny".
std::string DecidingRule(const policy::Decision& decision);

}  // namespace mash::agent
