// What the hub's data protection officer sees of the policies at work (DESIGN §§2, 7; the DPO
// pages of the console, docs/console.md):
//
//   - the sharing agreement in force: its id, title, owner, version, review date (overdue by the
//     broker's clock), who signed it, the shadow version beside it with the rules that changed,
//     and the publication history of its policy store;
//   - each agency's disclosure policy version as the broker last saw it in an answer (agencies
//     keep their policies, and their shadow versions, at their agents: the broker sees only the
//     version each answer names);
//   - "try a request": the agreement (enforced and shadow) evaluated for a request the DPO
//     composes, with the decision and its explanation, the same text `mashctl policy explain`
//     prints. It touches no subject data, sends nothing and raises no check;
//   - the shadow-mode differences: every agency part of a check (raised or refused by the
//     agreement) that the shadow version decided differently, kept in the broker's database
//     (table policy_shadow_difference): the check id, the agency, when, and each version's
//     effect, level, deciding rule, obligations and version. Never subject data.
//
// Access: role dpo reads and tries; ig_officer reads (agreement, agency versions, differences).
// Anyone else gets PermissionDenied and the refusal is recorded in the audit trail (the recorder
// given to SetRefusalRecorder, CheckService::RecordRefusal in the broker).
//
// Thread safety: one thread (the broker's io thread), like CheckService, which tells it of
// differences and answers through the CheckService::PolicyObserver interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/broker/checks.h"
#include "mash/broker/staff.h"
#include "mash/common/clock.h"
#include "mash/common/status.h"
#include "mash/policy/evaluator.h"
#include "mash/policy/store.h"
#include "mash/policy/test_runner.h"
#include "mash/storage/database.h"

namespace mash::broker {

// One version of the agreement as the pages show it.
struct AgreementVersion {
  std::string id;
  std::string title;
  std::string owner;
  std::string version;          // "sha256:..."
  std::string review_date;      // YYYY-MM-DD
  bool review_overdue = false;  // the review date has passed by the broker's clock
  size_t parties = 0;
  size_t rules = 0;
};

struct AgreementView {
  AgreementVersion enforced;
  std::vector<std::string> signers;  // key fingerprints that signed the enforced version
  std::optional<AgreementVersion> shadow;
  // Enforced -> shadow: header fields and rules added, removed or changed (no decisions).
  std::optional<policy::PolicyDiff> diff;
  // Loaded from a policy store (else from a bundle or file, with no history).
  std::filesystem::path store;
  std::vector<policy::HistoryEntry> history;  // newest first
  // Set when the store could not be read now (the rest is what the broker loaded at start).
  std::string history_error;
  // The store's current pointers differ from what the broker loaded: a publication takes
  // effect at the next restart.
  bool restart_pending = false;
};

// An agency's disclosure policy as the broker last saw it.
struct AgencyPolicySeen {
  std::string agency;
  std::string name;  // from the agreement's parties; empty for an agency that is not a party
  bool party = false;
  std::string version;         // the version named by its latest answer; empty: none seen
  std::string shadow_version;  // empty: not reported to the hub (agents keep it)
  common::TimePoint last_seen{};
};

// A request the DPO composes. Empty strings are "not given"; `level` -1 is "not given".
struct TryRequest {
  std::string role;
  std::string purpose;
  std::string lawful_basis;
  std::string consent_state;
  std::string override_ground;  // empty: none
  std::string urgency;
  int level = -1;
  std::vector<std::string> agencies;  // party ids
};

// A problem with one field of a TryRequest, for an error summary.
struct FieldError {
  std::string field;    // "role", "purpose", "lawful_basis", "consent_state", ...
  std::string message;  // "Select a purpose"
};

struct TryOutcome {
  struct Agency {
    std::string agency;
    policy::Decision enforced;
    std::optional<policy::Decision> shadow;  // when a shadow version is loaded
    bool differs = false;
    std::string enforced_text;  // policy::FormatDecision of each
    std::string shadow_text;
  };
  std::vector<Agency> agencies;  // in the order asked
  int64_t at = 0;                // Unix seconds: the broker's clock
  // What a check with these agencies would get: refused when any agency is denied.
  bool refused = false;
  bool shadow_refused = false;
  bool any_differs = false;
};

struct ShadowDifference {
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string check_ref;
  std::string agency;
  struct Side {
    std::string effect;  // "permit" | "deny"
    int level = -1;
    std::string rule;  // empty: deny by default
    std::vector<std::string> obligations;
    std::string version;
  };
  Side enforced;
  Side shadow;
};

struct ShadowDifferences {
  std::vector<ShadowDifference> newest;  // newest first, at most the limit asked
  int64_t total = 0;
  // How often each pair of deciding rules (enforced, shadow) differed, most frequent first.
  struct RuleCount {
    std::string enforced_rule;
    std::string shadow_rule;
    int64_t count = 0;
  };
  std::vector<RuleCount> by_rule;
};

class PolicyView final : public CheckService::PolicyObserver {
 public:
  // `agreement` is what the broker enforces; `signers` of its enforced version; `store` the
  // policy store it was loaded from (empty for a bundle or file). Opens the broker database
  // `database` and creates the table of differences when missing. Errors as
  // storage::Database::Open.
  static Result<std::unique_ptr<PolicyView>> Create(
      const storage::DatabaseOptions& database, std::shared_ptr<const policy::PolicySet> agreement,
      std::vector<std::string> signers, std::filesystem::path store, const common::Clock& clock);

  using RefusalRecorder = std::function<void(const Staff&, std::string_view detail)>;
  void SetRefusalRecorder(RefusalRecorder recorder) { refuse_ = std::move(recorder); }

  // The agreement in force (dpo, ig_officer). The store's history is read at each call.
  Result<AgreementView> Agreement(const Staff& staff) const;
  // Every party of the agreement, then any other agency seen, by agency id (dpo, ig_officer).
  Result<std::vector<AgencyPolicySeen>> AgencyPolicies(const Staff& staff) const;
  // The field problems of `request` against the vocabulary and the agreement's parties; empty
  // when it can be tried.
  std::vector<FieldError> Validate(const TryRequest& request) const;
  // Evaluates `request` for each agency with the enforced and shadow versions at the broker's
  // time (dpo only). InvalidArgument (the first field problem) when Validate finds any.
  Result<TryOutcome> Try(const Staff& staff, const TryRequest& request) const;
  // The newest `limit` differences (at most 1000) and the counts (dpo, ig_officer).
  Result<ShadowDifferences> Differences(const Staff& staff, int limit = 200) const;

  const policy::PolicySet& agreement() const { return *agreement_; }
  // The agreement now enforced and the signers of its enforced version (a reload: SIGHUP).
  void SetAgreement(std::shared_ptr<const policy::PolicySet> agreement,
                    std::vector<std::string> signers) {
    agreement_ = std::move(agreement);
    signers_ = std::move(signers);
  }

  // CheckService::PolicyObserver
  void OnShadowDiffers(const std::string& check_ref, const std::string& agency,
                       const policy::Decision& enforced, const policy::Decision& shadow) override;
  void OnAgencyPolicySeen(const std::string& agency, const std::string& version,
                          common::TimePoint when) override;

 private:
  PolicyView(std::unique_ptr<storage::Database> db,
             std::shared_ptr<const policy::PolicySet> agreement, std::vector<std::string> signers,
             std::filesystem::path store, const common::Clock& clock)
      : db_(std::move(db)),
        agreement_(std::move(agreement)),
        signers_(std::move(signers)),
        store_(std::move(store)),
        clock_(clock) {}
  // OK for the roles given; otherwise records the refusal and returns PermissionDenied.
  Status Allow(const Staff& staff, bool dpo_only, std::string_view what) const;
  AgreementVersion VersionOf(const policy::Policy& p) const;

  std::unique_ptr<storage::Database> db_;
  std::shared_ptr<const policy::PolicySet> agreement_;
  std::vector<std::string> signers_;
  std::filesystem::path store_;
  const common::Clock& clock_;
  RefusalRecorder refuse_;
  std::map<std::string, AgencyPolicySeen> seen_;  // by agency id
};

}  // namespace mash::broker
