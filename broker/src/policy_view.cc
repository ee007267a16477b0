#include "mash/broker/policy_view.h"

#include <algorithm>

#include "mash/common/log.h"
#include "mash/policy/vocabulary.h"

namespace mash::broker {
namespace {

// Kept for as long as the broker's database: ids, rule ids and versions, never subject data.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS policy_shadow_difference(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  check_ref TEXT NOT NULL,
  agency TEXT NOT NULL,
  enforced_effect TEXT NOT NULL,
  enforced_level INTEGER NOT NULL,
  enforced_rule TEXT NOT NULL,
  enforced_obligations TEXT NOT NULL,
  enforced_version TEXT NOT NULL,
  shadow_effect TEXT NOT NULL,
  shadow_level INTEGER NOT NULL,
  shadow_rule TEXT NOT NULL,
  shadow_obligations TEXT NOT NULL,
  shadow_version TEXT NOT NULL
);
)sql";

constexpr int kMaxDifferencesShown = 1000;

std::string JoinSpace(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : " ") + x;
  return out;
}

std::vector<std::string> SplitSpace(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t end = std::min(s.find(' ', at), s.size());
    if (end > at) out.push_back(s.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

bool InVocabulary(policy::Dimension d, const std::string& id) {
  return policy::Vocabulary::Builtin().IndexOf(d, id) >= 0;
}

}  // namespace

Result<std::unique_ptr<PolicyView>> PolicyView::Create(
    const storage::DatabaseOptions& database, std::shared_ptr<const policy::PolicySet> agreement,
    std::vector<std::string> signers, std::filesystem::path store, const common::Clock& clock) {
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open(database));
  MASH_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<PolicyView>(new PolicyView(std::move(db), std::move(agreement),
                                                    std::move(signers), std::move(store), clock));
}

Status PolicyView::Allow(const Staff& staff, bool dpo_only, std::string_view what) const {
  if (staff.role == "dpo" || (!dpo_only && staff.role == "ig_officer")) return Status::Ok();
  if (refuse_) refuse_(staff, "policy_view: " + std::string(what) + ": role");
  return PermissionDenied(dpo_only ? "only the data protection officer may do this"
                                   : "only the data protection officer and IG officers may "
                                     "see the policies");
}

AgreementVersion PolicyView::VersionOf(const policy::Policy& p) const {
  AgreementVersion v;
  v.id = p.id;
  v.title = p.title;
  v.owner = p.owner;
  v.version = p.version;
  v.review_date = p.review_date;
  // As `mashctl policy validate` warns: past midnight (UTC) starting the review date.
  v.review_overdue = clock_.NowUnix() > p.review_date_unix;
  v.parties = p.parties.size();
  v.rules = p.rules.size();
  return v;
}

Result<AgreementView> PolicyView::Agreement(const Staff& staff) const {
  MASH_RETURN_IF_ERROR(Allow(staff, false, "agreement"));
  AgreementView view;
  view.enforced = VersionOf(agreement_->enforced());
  view.signers = signers_;
  if (const policy::Policy* shadow = agreement_->shadow()) {
    view.shadow = VersionOf(*shadow);
    view.diff = policy::DiffPolicies(agreement_->enforced(), *shadow, {});
  }
  view.store = store_;
  if (!store_.empty()) {
    auto store = policy::PolicyStore::Open(store_, false);
    auto history =
        store.ok() ? store->History() : Result<std::vector<policy::HistoryEntry>>(store.status());
    if (!history.ok()) {
      common::LogWarn("policy_view.history_unreadable", {{"error", history.status().ToString()}});
      view.history_error = "the policy store cannot be read now";
    } else {
      view.history.assign(history->rbegin(), history->rend());
      const std::string loaded_shadow =
          agreement_->shadow() != nullptr ? agreement_->shadow()->version : "";
      view.restart_pending = store->Enforced().value_or("") != agreement_->enforced().version ||
                             store->Shadow().value_or("") != loaded_shadow;
    }
  }
  return view;
}

Result<std::vector<AgencyPolicySeen>> PolicyView::AgencyPolicies(const Staff& staff) const {
  MASH_RETURN_IF_ERROR(Allow(staff, false, "agency_policies"));
  std::vector<AgencyPolicySeen> out;
  for (const auto& party : agreement_->enforced().parties) {
    AgencyPolicySeen a;
    const auto it = seen_.find(party.id);
    if (it != seen_.end()) a = it->second;
    a.agency = party.id;
    a.name = party.name;
    a.party = true;
    out.push_back(std::move(a));
  }
  for (const auto& [id, seen] : seen_) {
    if (agreement_->enforced().PartyIndex(id) >= 0) continue;
    out.push_back(seen);
  }
  return out;
}

std::vector<FieldError> PolicyView::Validate(const TryRequest& r) const {
  using policy::Dimension;
  std::vector<FieldError> errors;
  auto check = [&](const std::string& field, const std::string& value, Dimension d,
                   const std::string& missing, const std::string& unknown) {
    if (value.empty()) {
      errors.push_back({field, missing});
    } else if (!InVocabulary(d, value)) {
      errors.push_back({field, unknown});
    }
  };
  check("role", r.role, Dimension::kRole, "Select the role of the person asking",
        "Select a role from the list");
  check("purpose", r.purpose, Dimension::kPurpose, "Select a purpose",
        "Select a purpose from the list");
  check("lawful_basis", r.lawful_basis, Dimension::kLawfulBasis, "Select a lawful basis",
        "Select a lawful basis from the list");
  check("consent_state", r.consent_state, Dimension::kConsentState, "Select the consent state",
        "Select a consent state from the list");
  if (!r.override_ground.empty() && !InVocabulary(Dimension::kOverrideGround, r.override_ground)) {
    errors.push_back({"override_ground", "Select an override ground from the list, or none"});
  }
  check("urgency", r.urgency, Dimension::kUrgency, "Select the urgency",
        "Select an urgency from the list");
  if (r.level == -1) {
    errors.push_back({"level", "Select the level of information asked for"});
  } else if (r.level < policy::kMinLevel || r.level > policy::kMaxLevel) {
    errors.push_back({"level", "Select a level from 0 to 3"});
  }
  if (r.agencies.empty()) {
    errors.push_back({"agencies", "Select at least one agency"});
  } else if (r.agencies.size() > agreement_->enforced().parties.size() ||
             std::any_of(r.agencies.begin(), r.agencies.end(), [&](const std::string& a) {
               return agreement_->enforced().PartyIndex(a) < 0;
             })) {
    errors.push_back({"agencies", "Select agencies that are parties to the agreement"});
  }
  return errors;
}

Result<TryOutcome> PolicyView::Try(const Staff& staff, const TryRequest& request) const {
  MASH_RETURN_IF_ERROR(Allow(staff, true, "try"));
  const auto errors = Validate(request);
  if (!errors.empty()) return InvalidArgument(errors.front().field + ": " + errors.front().message);
  TryOutcome out;
  out.at = clock_.NowUnix();
  const policy::EvaluateOptions explain{true};
  for (const auto& agency : request.agencies) {
    policy::Request pr;
    pr.role = request.role;
    pr.purpose = request.purpose;
    pr.lawful_basis = request.lawful_basis;
    pr.consent_state = request.consent_state;
    pr.override_ground = request.override_ground;
    pr.urgency = request.urgency;
    pr.agency = agency;
    pr.level = request.level;
    TryOutcome::Agency a;
    a.agency = agency;
    a.enforced = policy::Evaluate(agreement_->enforced(), pr, out.at, explain);
    a.enforced_text = policy::FormatDecision(a.enforced);
    if (a.enforced.effect == policy::Effect::kDeny) out.refused = true;
    if (const policy::Policy* shadow = agreement_->shadow()) {
      a.shadow = policy::Evaluate(*shadow, pr, out.at, explain);
      a.shadow_text = policy::FormatDecision(*a.shadow);
      a.differs = policy::DecisionsDiffer(a.enforced, *a.shadow);
      if (a.shadow->effect == policy::Effect::kDeny) out.shadow_refused = true;
    }
    out.any_differs = out.any_differs || a.differs;
    out.agencies.push_back(std::move(a));
  }
  // Not a disclosure and not a check: the outcome only, never the request's values.
  common::LogInfo("policy.tried", {{"agencies", out.agencies.size()},
                                   {"refused", out.refused},
                                   {"shadow_differs", out.any_differs}});
  return out;
}

void PolicyView::OnShadowDiffers(const std::string& check_ref, const std::string& agency,
                                 const policy::Decision& enforced, const policy::Decision& shadow) {
  auto stmt = db_->Prepare(
      "INSERT INTO policy_shadow_difference(time, check_ref, agency, enforced_effect, "
      "enforced_level, enforced_rule, enforced_obligations, enforced_version, shadow_effect, "
      "shadow_level, shadow_rule, shadow_obligations, shadow_version) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  Status stored = stmt.status();
  if (stmt.ok()) {
    stmt->Bind(1, static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           clock_.Now().time_since_epoch())
                                           .count()))
        .Bind(2, check_ref)
        .Bind(3, agency)
        .Bind(4, policy::EffectName(enforced.effect))
        .Bind(5, static_cast<int64_t>(enforced.level))
        .Bind(6, enforced.deciding_rule)
        .Bind(7, JoinSpace(enforced.obligations))
        .Bind(8, enforced.policy_version)
        .Bind(9, policy::EffectName(shadow.effect))
        .Bind(10, static_cast<int64_t>(shadow.level))
        .Bind(11, shadow.deciding_rule)
        .Bind(12, JoinSpace(shadow.obligations))
        .Bind(13, shadow.policy_version);
    stored = stmt->Run();
  }
  if (!stored.ok()) {
    // The enforced decision stands either way; the DPO's comparison loses this row, and the
    // log line policy.shadow_differs (written by the check service) still has it.
    common::LogError("policy.shadow_record_failed",
                     {{"check", check_ref}, {"agency", agency}, {"error", stored.ToString()}});
  }
}

void PolicyView::OnAgencyPolicySeen(const std::string& agency, const std::string& version,
                                    common::TimePoint when) {
  if (version.empty()) return;
  AgencyPolicySeen& seen = seen_[agency];
  if (!seen.version.empty() && when < seen.last_seen) return;  // an older answer (at Load)
  seen.agency = agency;
  const int party = agreement_->enforced().PartyIndex(agency);
  seen.party = party >= 0;
  if (party >= 0) seen.name = agreement_->enforced().parties[party].name;
  seen.version = version;
  seen.last_seen = when;
}

Result<ShadowDifferences> PolicyView::Differences(const Staff& staff, int limit) const {
  MASH_RETURN_IF_ERROR(Allow(staff, false, "shadow_differences"));
  limit = std::clamp(limit, 1, kMaxDifferencesShown);
  ShadowDifferences out;
  {
    MASH_ASSIGN_OR_RETURN(auto stmt,
                          db_->Prepare("SELECT seq, time, check_ref, agency, enforced_effect, "
                                       "enforced_level, enforced_rule, enforced_obligations, "
                                       "enforced_version, shadow_effect, shadow_level, "
                                       "shadow_rule, shadow_obligations, shadow_version "
                                       "FROM policy_shadow_difference ORDER BY seq DESC LIMIT ?"));
    stmt.Bind(1, static_cast<int64_t>(limit));
    while (true) {
      MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      ShadowDifference d;
      d.seq = stmt.ColumnInt(0);
      d.time_ms = stmt.ColumnInt(1);
      d.check_ref = stmt.ColumnText(2);
      d.agency = stmt.ColumnText(3);
      d.enforced = {stmt.ColumnText(4), static_cast<int>(stmt.ColumnInt(5)), stmt.ColumnText(6),
                    SplitSpace(stmt.ColumnText(7)), stmt.ColumnText(8)};
      d.shadow = {stmt.ColumnText(9), static_cast<int>(stmt.ColumnInt(10)), stmt.ColumnText(11),
                  SplitSpace(stmt.ColumnText(12)), stmt.ColumnText(13)};
      out.newest.push_back(std::move(d));
    }
  }
  {
    MASH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT enforced_rule, shadow_rule, COUNT(*) "
                                                  "FROM policy_shadow_difference GROUP BY "
                                                  "enforced_rule, shadow_rule ORDER BY 3 DESC, "
                                                  "1, 2"));
    while (true) {
      MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      out.by_rule.push_back({stmt.ColumnText(0), stmt.ColumnText(1), stmt.ColumnInt(2)});
      out.total += stmt.ColumnInt(2);
    }
  }
  return out;
}

}  // namespace mash::broker
