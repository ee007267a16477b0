#include "mash/broker/checks.h"

#include <algorithm>

#include "mash/broker/metrics.h"
#include "mash/common/log.h"
#include "mash/policy/vocabulary.h"
#include "mash/schemas/validator.h"

namespace mash::broker {
namespace {

int64_t Millis(common::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The audit disposition of an agency's outcome for a category (docs/audit-format.md).
std::string_view Disposition(std::string_view outcome) {
  if (outcome == "shared") return "disclosed";
  if (outcome == "redacted") return "redacted";
  if (outcome == "review") return "custodian_review";
  return "withheld";
}

Status CheckTerm(policy::Dimension d, const std::string& value, std::string_view field) {
  if (policy::Vocabulary::Builtin().IndexOf(d, value) >= 0) return Status::Ok();
  return InvalidArgument(std::string(field) + ": not a " + std::string(policy::DimensionName(d)) +
                         " of the vocabulary (schemas/vocabulary/vocabulary.json)");
}

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) {
    if (!out.empty()) out += " ";
    out += r;
  }
  return out;
}

}  // namespace

Result<RaiseRequest> RaiseRequest::FromJson(const nlohmann::json& body) {
  MASH_RETURN_IF_ERROR(schemas::Validate("check-request", body));
  RaiseRequest r;
  r.subject = schemas::Person::FromJson(body.at("subject"));
  if (const auto it = body.find("household"); it != body.end()) {
    for (const auto& p : *it) r.household.push_back(schemas::Person::FromJson(p));
  }
  r.purpose = body.at("purpose").get<std::string>();
  r.lawful_basis = body.at("lawful_basis").get<std::string>();
  const auto& consent = body.at("consent");
  r.consent_state = consent.at("state").get<std::string>();
  r.evidence_ref = consent.value("evidence_ref", "");
  r.override_ground = consent.value("override_ground", "");
  r.justification = consent.value("justification", "");
  r.urgency = body.at("urgency").get<std::string>();
  r.level = body.value("level", 1);
  r.agencies = body.at("agencies").get<std::vector<std::string>>();
  r.categories = body.value("categories", std::vector<std::string>{});

  MASH_RETURN_IF_ERROR(CheckTerm(policy::Dimension::kPurpose, r.purpose, "/purpose"));
  MASH_RETURN_IF_ERROR(CheckTerm(policy::Dimension::kLawfulBasis, r.lawful_basis, "/lawful_basis"));
  MASH_RETURN_IF_ERROR(
      CheckTerm(policy::Dimension::kConsentState, r.consent_state, "/consent/state"));
  MASH_RETURN_IF_ERROR(CheckTerm(policy::Dimension::kUrgency, r.urgency, "/urgency"));
  if (r.consent_state == "given") {
    if (r.evidence_ref.empty()) {
      return InvalidArgument("/consent/evidence_ref: consent given needs an evidence reference");
    }
    if (!r.override_ground.empty()) {
      return InvalidArgument("/consent/override_ground: not allowed when consent is given");
    }
  } else {
    if (r.override_ground.empty()) {
      return InvalidArgument(
          "/consent/override_ground: without consent, one of the four override grounds is "
          "required");
    }
    MASH_RETURN_IF_ERROR(CheckTerm(policy::Dimension::kOverrideGround, r.override_ground,
                                   "/consent/override_ground"));
    if (r.justification.empty()) {
      return InvalidArgument("/consent/justification: an override needs a justification");
    }
  }
  if (r.subject.identifiers.empty() && (r.subject.family_name.empty() || r.subject.dob.empty())) {
    return InvalidArgument(
        "/subject: give an identifier (NHS number, PNC id, UPN, NI number) or a family name and "
        "date of birth");
  }
  return r;
}

nlohmann::json RaiseRequest::ToJson() const {
  nlohmann::json consent = {{"state", consent_state}};
  if (!evidence_ref.empty()) consent["evidence_ref"] = evidence_ref;
  if (!override_ground.empty()) consent["override_ground"] = override_ground;
  if (!justification.empty()) consent["justification"] = justification;
  nlohmann::json j = {{"subject", subject.ToJson()},  {"purpose", purpose},
                      {"lawful_basis", lawful_basis}, {"consent", std::move(consent)},
                      {"urgency", urgency},           {"level", level},
                      {"agencies", agencies}};
  if (!household.empty()) {
    j["household"] = nlohmann::json::array();
    for (const auto& p : household) j["household"].push_back(p.ToJson());
  }
  if (!categories.empty()) j["categories"] = categories;
  return j;
}

std::string RaiseRequest::ConsentTag() const {
  if (override_ground.empty()) return consent_state;
  return consent_state + ";override:" + override_ground;
}

CheckService::CheckService(Courier& courier, const common::Clock& clock,
                           common::RandomSource& random, audit::AuditSink& audit,
                           std::shared_ptr<const policy::PolicySet> agreement,
                           std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post,
                           CheckServiceOptions options)
    : courier_(courier),
      clock_(clock),
      random_(random),
      audit_(audit),
      agreement_(std::move(agreement)),
      pseudonyms_(std::move(pseudonyms)),
      post_(std::move(post)),
      options_(options) {
  options_.max_in_flight = std::max(1, options_.max_in_flight);
  if (options_.alerts != nullptr) {
    options_.alerts->SetCheckDetails(
        [this](const std::string& id) -> std::optional<nlohmann::json> {
          const auto it = checks_.find(id);
          if (it == checks_.end() || !it->second.recorded) return std::nullopt;
          return OverrideDetails(it->second);
        });
    // Events about an alert of a check carry the check's context, as the check's own events do.
    options_.alerts->SetCheckEvent(
        [this](const std::string& id) -> std::optional<audit::AuditEvent> {
          const auto it = checks_.find(id);
          if (it == checks_.end()) return std::nullopt;
          return EventFor(it->second, audit::EventType::kAlertRaised, Staff{});
        });
  }
}

CheckService::~CheckService() {
  if (options_.alerts != nullptr) {
    options_.alerts->SetCheckDetails(nullptr);
    options_.alerts->SetCheckEvent(nullptr);
  }
}

std::string_view CheckService::StateName(PartState s) {
  switch (s) {
    case PartState::kAwaitingAuthorisation:
      return "awaiting_authorisation";
    case PartState::kQueued:
      return "waiting_for_agent";
    case PartState::kSending:
    case PartState::kSent:
    case PartState::kRecording:
      return "sent";
    case PartState::kAnswered:
      return "answered";
    case PartState::kExpired:
      return "no_answer";
    case PartState::kFailed:
      return "failed";
    case PartState::kRejected:
      return "rejected";
  }
  return "unknown";
}

std::string CheckService::ShownState(const Part& part) {
  // Only once the answer itself is recorded: until then the part is still "sent", so that a
  // practitioner (or mashctl --wait) never takes a review announcement for the answer.
  if (part.state == PartState::kAnswered && !part.review.empty()) return "awaiting_agency_review";
  return std::string(StateName(part.state));
}

// A part whose categories wait for the agency's custodian has answered (what its policy lets
// go automatically): the check can be "answered" while the view says who still reviews what
// (awaiting_agency_review), so that a practitioner is not held for a person's decision.
std::string CheckService::OverallState(const Check& check) const {
  size_t answered = 0;
  size_t open = 0;
  size_t awaiting = 0;
  for (const auto& [_, p] : check.parts) {
    if (p.state == PartState::kAnswered) ++answered;
    if (p.state == PartState::kAwaitingAuthorisation) ++awaiting;
    if (p.state == PartState::kQueued || p.state == PartState::kSending ||
        p.state == PartState::kSent || p.state == PartState::kRecording) {
      ++open;
    }
  }
  if (!check.outcome.empty()) return "closed";
  if (awaiting > 0) return "awaiting_authorisation";
  if (check.decision == "rejected") return "rejected";
  if (answered == check.parts.size()) return "answered";
  // Past the deadline a check with open parts is shown for what it has: the open parts still
  // take their answers (marked late).
  const bool overdue = check.due_at != common::TimePoint{} && clock_.Now() >= check.due_at;
  if (open > 0 && !overdue) return "dispatched";
  return answered > 0 ? "partially_answered" : "expired";
}

std::vector<std::string> CheckService::Pseudonyms(const RaiseRequest& request) const {
  std::vector<std::string> out;
  auto add_person = [&](const schemas::Person& p) {
    for (const auto& [kind, value] : p.identifiers) {
      out.push_back(pseudonyms_->Pseudonym(kind, value));
    }
    // Without an identifier IG can still find the subject by name and date of birth
    // (mashctl audit hash-subject --kind name_dob --value "FAMILY GIVEN YYYY-MM-DD").
    if (!p.family_name.empty() && !p.dob.empty()) {
      out.push_back(
          pseudonyms_->Pseudonym("name_dob", p.family_name + " " + p.given_names + " " + p.dob));
    }
  };
  add_person(request.subject);
  for (const auto& p : request.household) add_person(p);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > audit::kMaxListItems) out.resize(audit::kMaxListItems);
  return out;
}

audit::AuditEvent CheckService::EventFor(const Check& check, audit::EventType type,
                                         const Staff& who) const {
  audit::AuditEvent e;
  e.type = type;
  e.person = who.user;
  e.role = who.role;
  e.organisation = who.organisation;
  e.subjects = check.subjects;
  e.check_ref = check.id;
  e.purpose = check.request.purpose;
  e.lawful_basis = check.request.lawful_basis;
  e.consent = check.request.consent_state;
  e.override_ground = check.request.override_ground;
  // The justification itself may name people; the event keeps a reference to the check, where
  // the text lives under the check's retention.
  if (!check.request.override_ground.empty()) e.justification_ref = "check:" + check.id;
  e.policy_version = agreement_->enforced().version;
  return e;
}

void CheckService::AppendAll(std::vector<audit::AuditEvent> events,
                             std::function<void(Result<uint64_t>)> done) {
  struct Join {
    size_t remaining;
    Status first_error = Status::Ok();
    uint64_t last_seq = 0;
    std::mutex mu;
    std::function<void(Result<uint64_t>)> done;
  };
  auto join = std::make_shared<Join>();
  join->remaining = events.size();
  join->done = std::move(done);
  std::weak_ptr<int> alive = alive_;
  Post post = post_;
  for (auto& e : events) {
    audit_.Append(std::move(e), [join, alive, post](Result<uint64_t> r) {
      {
        std::lock_guard lock(join->mu);
        if (!r.ok() && join->first_error.ok()) join->first_error = r.status();
        if (r.ok()) join->last_seq = std::max(join->last_seq, *r);
        if (--join->remaining > 0) return;
      }
      post([join, alive] {
        if (alive.expired()) return;
        if (!join->first_error.ok()) return join->done(join->first_error);
        join->done(join->last_seq);
      });
    });
  }
}

void CheckService::AppendUnwaited(audit::AuditEvent event) {
  // A record of something already refused or failed: nothing waits for it, so a failure to
  // record it can only be logged.
  std::string check = event.check_ref;  // copied first: the event is moved into Append
  audit_.Append(std::move(event), [check = std::move(check)](Result<uint64_t> r) {
    if (r.ok()) return;
    nlohmann::json fields = {{"error", r.status().ToString()}};
    if (!check.empty()) fields["check"] = check;  // the correlation id, as on every check line
    common::LogError("audit.append_failed", fields);
  });
}

void CheckService::RecordRefusal(const Staff& staff, std::string_view detail) {
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestRefused;
  e.outcome = audit::Outcome::kRefused;
  e.person = staff.user;
  e.role = staff.role;
  e.organisation = staff.organisation;
  e.detail = std::string(detail);
  AppendUnwaited(std::move(e));
}

void CheckService::RecordUnauthenticated() { ++unauthenticated_; }

void CheckService::FlushUnauthenticated() {
  if (unauthenticated_ == 0) return;
  // One row per second at most, with the count: a peer without a token cannot fill the audit
  // store one row per request (each request is still logged).
  RecordRefusal(Staff{"", "", "", ""}, "unauthenticated x" + std::to_string(unauthenticated_));
  unauthenticated_ = 0;
}

void CheckService::RecordFailure(const std::string& agency, std::string_view detail,
                                 const std::string& check_ref) {
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestFailed;
  e.outcome = audit::Outcome::kFailed;
  e.person = agency;
  e.role = "agent";
  e.organisation = agency;
  e.agency = agency;
  e.check_ref = check_ref;
  e.detail = std::string(detail);
  AppendUnwaited(std::move(e));
}

void CheckService::Raise(const RaiseRequest& request, const Staff& staff, Done done) {
  if (draining_) {
    RecordRefusal(staff, "broker_draining");
    return done(Unavailable("the broker is stopping"));
  }
  for (const auto& a : request.agencies) {
    if (courier_.FindAgency(a) == nullptr) {
      RecordRefusal(staff, "unknown_agency");
      return done(InvalidArgument("/agencies: '" + a + "' is not a registered agency"));
    }
  }
  if (checks_.size() >= kMaxChecks) {
    common::LogWarn("check.capacity", {{"limit", kMaxChecks}});
    return done(ResourceExhausted("too many open checks"));
  }
  Check check;
  check.id = random_.Hex(16);
  check.request = request;
  check.raised_by = staff;
  check.subjects = Pseudonyms(request);
  check.raised_at = clock_.Now();

  // The agreement decides each agency's part. One denial refuses the check: a practitioner
  // gets the reasons and can ask again within the agreement, rather than a silently partial
  // check.
  const int64_t now = clock_.NowUnix();
  std::vector<std::string> denials;
  audit::AuditEvent refused;
  bool awaiting = false;
  std::vector<audit::AuditEvent> events;
  struct ShadowDiff {
    std::string agency;
    policy::Decision enforced;
    policy::Decision shadow;
  };
  std::vector<ShadowDiff> shadow_diffs;
  for (const auto& a : request.agencies) {
    policy::Request pr;
    pr.role = staff.role;
    pr.purpose = request.purpose;
    pr.lawful_basis = request.lawful_basis;
    pr.consent_state = request.consent_state;
    pr.override_ground = request.override_ground;
    pr.urgency = request.urgency;
    pr.agency = a;
    pr.level = request.level;
    const auto outcome = agreement_->EvaluateBoth(pr, now);
    const policy::Decision& d = outcome.enforced;
    if (outcome.differs) {
      common::LogInfo("policy.shadow_differs",
                      {{"check", check.id},
                       {"agency", a},
                       {"enforced", policy::EffectName(d.effect)},
                       {"enforced_rule", d.deciding_rule},
                       {"shadow", policy::EffectName(outcome.shadow->effect)},
                       {"shadow_rule", outcome.shadow->deciding_rule},
                       {"shadow_version", outcome.shadow->policy_version}});
      shadow_diffs.push_back({a, d, *outcome.shadow});
    }
    if (d.effect == policy::Effect::kDeny) {
      if (denials.empty()) {
        refused = EventFor(check, audit::EventType::kRequestRefused, staff);
        refused.outcome = audit::Outcome::kRefused;
        refused.agency = a;
        refused.level = request.level;
        refused.rule = d.deciding_rule.empty() ? "default-deny" : d.deciding_rule;
        refused.detail = "agreement";
      }
      denials.push_back(a + ": " + JoinReasons(d.reasons));
      continue;
    }
    Part& part = check.parts[a];
    part.agency = a;
    part.level = std::min(request.level, d.level);
    part.rule = d.deciding_rule;
    for (const auto& o : d.obligations) {
      if (std::find(check.obligations.begin(), check.obligations.end(), o) ==
          check.obligations.end()) {
        check.obligations.push_back(o);
      }
    }
    if (std::find(d.obligations.begin(), d.obligations.end(), "second_approver") !=
        d.obligations.end()) {
      part.state = PartState::kAwaitingAuthorisation;
      awaiting = true;
    }
  }
  policy::SortObligations(check.obligations);
  if (awaiting) {
    // Nothing of the check leaves before the override is authorised, whichever agency's
    // decision asked for the second approver: a rejection must leave no agency told.
    for (auto& [_, part] : check.parts) part.state = PartState::kAwaitingAuthorisation;
  }

  // Beyond the agreement (which refuses with its reasons first), the hub's own rule: checks
  // are raised by MASH practitioners and managers, each in a team that will own the check.
  if (denials.empty() && (staff.role != "practitioner" && staff.role != "manager")) {
    RecordRefusal(staff, "raise: role");
    return done(PermissionDenied("only MASH practitioners and managers raise checks"));
  }
  if (denials.empty() && staff.team.empty()) {
    RecordRefusal(staff, "raise: no team");
    return done(PermissionDenied("your account belongs to no team; ask an administrator"));
  }
  // A request the hub's own rules refused above never reached the agreement's decision; the
  // rest (raised, or refused by the agreement) are what the DPO compares the shadow with.
  if (policy_observer_ != nullptr) {
    for (const auto& diff : shadow_diffs) {
      policy_observer_->OnShadowDiffers(check.id, diff.agency, diff.enforced, diff.shadow);
    }
  }
  if (!denials.empty()) {
    common::LogInfo("check.refused",
                    {{"check", check.id}, {"rule", refused.rule}, {"agencies", denials.size()}});
    std::string message = "refused by the sharing agreement. " + JoinReasons(denials);
    events.push_back(std::move(refused));
    AppendAll(std::move(events), [done, message](Result<uint64_t> r) {
      if (!r.ok()) return done(Unavailable("cannot record the request now"));
      done(PermissionDenied(message));
    });
    return;
  }

  audit::AuditEvent raised = EventFor(check, audit::EventType::kCheckRaised, staff);
  raised.level = request.level;
  raised.rule = check.parts.begin()->second.rule;
  if (awaiting) raised.detail = "awaiting_authorisation";
  events.push_back(std::move(raised));
  const std::string id = check.id;
  checks_.emplace(id, std::move(check));  // not visible nor dispatched until committed
  AppendAll(std::move(events),
            [this, id, done](Result<uint64_t> r) { OnRaiseCommitted(id, std::move(r), done); });
}

void CheckService::OnRaiseCommitted(const std::string& id, Result<uint64_t> committed,
                                    const Done& done) {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return done(Unavailable("cannot raise check now"));
  if (!committed.ok()) {
    common::LogError("check.audit_failed",
                     {{"check", id}, {"error", committed.status().ToString()}});
    checks_.erase(it);
    return done(Unavailable("cannot raise check now"));
  }
  Check& raised = it->second;
  raised.raised_at = clock_.Now();
  const bool awaiting = std::any_of(raised.parts.begin(), raised.parts.end(), [](const auto& p) {
    return p.second.state == PartState::kAwaitingAuthorisation;
  });
  // The clock starts when the queries may go out: now, or at the override's authorisation.
  if (!awaiting) StartClock(raised, raised.raised_at);
  // Shown, answered (201) and sent only once its row is on disk.
  SaveThen(raised, [this, id, done](Status saved) { OnRaiseSaved(id, saved, done); });
}

void CheckService::OnRaiseSaved(const std::string& id, Status saved, const Done& done) {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return done(Unavailable("cannot raise check now"));
  if (!saved.ok()) {
    checks_.erase(it);
    return done(Unavailable("cannot raise check now"));
  }
  Check& check = it->second;
  check.recorded = true;
  if (options_.alerts != nullptr) {
    options_.alerts->OnCheckRaised(check.raised_by, id, !check.request.override_ground.empty(),
                                   OverrideSummary(check), check.raised_at);
  }
  if (options_.metrics != nullptr) options_.metrics->CheckRaised();
  common::LogInfo("check.raised", {{"check", id},
                                   {"purpose", check.request.purpose},
                                   {"urgency", check.request.urgency},
                                   {"agencies", check.parts.size()},
                                   {"state", OverallState(check)}});
  done(ToJson(check));
  std::vector<std::string> agencies;
  for (const auto& [agency, part] : check.parts) {
    if (part.state == PartState::kQueued) agencies.push_back(agency);
  }
  for (const auto& a : agencies) {
    waiting_[a].push_back(id);
    DispatchWaiting(a);
  }
}

void CheckService::DispatchWaiting(const std::string& agency) {
  if (draining_) return;  // stored as queued: the next start sends them
  auto& queue = waiting_[agency];
  while (!queue.empty() && in_flight_[agency] < options_.max_in_flight && hub_ &&
         hub_->IsOnline(agency)) {
    const std::string id = queue.front();
    const auto it = checks_.find(id);
    Part* part = nullptr;
    if (it != checks_.end()) {
      const auto pit = it->second.parts.find(agency);
      if (pit != it->second.parts.end() && pit->second.state == PartState::kQueued) {
        part = &pit->second;
      }
    }
    if (part == nullptr) {  // answered, expired or dropped since it was queued
      queue.pop_front();
      continue;
    }
    if (!Dispatch(it->second, *part)) return;  // stays first in line for the next connection
    queue.pop_front();
  }
}

crypto::EnvelopeHeader CheckService::HeaderFor(const Check& check, std::string_view type) const {
  crypto::EnvelopeHeader header;
  header.type = std::string(type);
  header.check_ref = check.id;
  header.purpose = check.request.purpose;
  header.lawful_basis = check.request.lawful_basis;
  header.consent = check.request.ConsentTag();
  header.urgency = check.request.urgency;
  header.policy_hash = agreement_->enforced().version;
  return header;
}

bool CheckService::Dispatch(Check& check, Part& part) {
  if (!check.outcome.empty()) {  // closed by its decision since it was queued
    part.state = PartState::kExpired;
    return true;
  }
  schemas::QueryBody body;
  // A query sent again after a lost connection keeps its id, so that an answer to either
  // copy matches; the envelope around it is always new.
  if (part.query_id.empty()) part.query_id = random_.Hex(16);
  body.query_id = part.query_id;
  body.level = part.level;
  body.subject = check.request.subject;
  body.household = check.request.household;
  body.categories = check.request.categories;
  const crypto::EnvelopeHeader header = HeaderFor(check, "query");
  const auto lifetime =
      std::clamp<std::chrono::seconds>(options_.query_lifetime, std::chrono::seconds(1),
                                       std::chrono::seconds(crypto::kMaxLifetimeSeconds));
  auto sealed = courier_.Seal(part.agency, header, body.ToJson().dump(), lifetime);
  if (!sealed.ok()) {
    part.state = PartState::kFailed;
    common::LogError(
        "query.seal_failed",
        {{"check", check.id}, {"agency", part.agency}, {"error", sealed.status().ToString()}});
    RecordFailure(part.agency, "query_seal_failed", check.id);
    return true;
  }
  // The query leaves only once its query_sent event (with the envelope's hash) has committed
  // (DPA 2018 s.62: who was told what, when). Until then it counts against the agency's
  // in-flight cap.
  part.state = PartState::kSending;
  part.session = 0;
  ++in_flight_[part.agency];
  audit::AuditEvent sent = EventFor(check, audit::EventType::kQuerySent, check.raised_by);
  sent.agency = part.agency;
  sent.level = part.level;
  sent.rule = part.rule;
  const auto hash = sealed->envelope.Hash();
  sent.envelope_hashes.push_back(common::Bytes(hash.begin(), hash.end()));
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(sent));
  // The ticket holds the query's place in the agency's line while its event commits: a receipt
  // or chase sealed after it waits behind it (outbox.h). Should this callback never run, the
  // ticket is dropped with it and the place given up.
  AppendAll(
      std::move(events),
      [this, id = check.id, agency = part.agency, ticket = sealed->ticket,
       frame =
           schemas::EnvelopeFrame(schemas::MessageType::kQuery, sealed->envelope.ToJson()).dump()](
          Result<uint64_t> r) { OnQueryRecorded(id, agency, frame, ticket, std::move(r)); });
  return true;
}

void CheckService::OnQueryRecorded(const std::string& id, const std::string& agency,
                                   const std::string& frame, const Outbox::Ticket& ticket,
                                   Result<uint64_t> committed) {
  if (!committed.ok()) {
    ticket.Abandon();
    return SendQuery(id, agency, frame, committed.status());
  }
  std::weak_ptr<int> alive = alive_;
  ticket.Send([this, alive, id, agency, frame] {
    if (!alive.expired()) SendQuery(id, agency, frame, Status::Ok());
  });
}

void CheckService::SendQuery(const std::string& id, const std::string& agency,
                             const std::string& frame, const Status& recorded) {
  Part* part = nullptr;
  if (const auto it = checks_.find(id); it != checks_.end()) {
    const auto pit = it->second.parts.find(agency);
    if (pit != it->second.parts.end() && pit->second.state == PartState::kSending &&
        pit->second.session == 0) {
      part = &pit->second;
    }
  }
  if (part == nullptr || !recorded.ok()) {
    --in_flight_[agency];
    if (part != nullptr) {
      part->state = PartState::kFailed;
      common::LogError("query.audit_failed",
                       {{"check", id}, {"agency", agency}, {"error", recorded.ToString()}});
    }
    DispatchWaiting(agency);
    return;
  }
  std::weak_ptr<int> alive = alive_;
  const uint64_t session = hub_ ? hub_->Send(agency, frame,
                                             [this, alive, id, agency](bool written) {
                                               if (!alive.expired())
                                                 OnDelivered(id, agency, written);
                                             })
                                : 0;
  if (session == 0) {
    // Offline since: first in line again for the next connection (in a new envelope).
    --in_flight_[agency];
    part->state = PartState::kQueued;
    waiting_[agency].push_front(id);
    common::LogWarn("query.send_failed", {{"check", id}, {"agency", agency}});
    return;
  }
  part->session = session;
  part->sent_at = clock_.Now();
  common::LogInfo("query.sent", {{"check", id}, {"agency", agency}});
}

void CheckService::OnDelivered(const std::string& check_id, const std::string& agency,
                               bool written) {
  --in_flight_[agency];
  // A frame that was not written belongs to a connection that is closing: OnSessionClosed puts
  // its part back in the queue.
  if (written) {
    const auto it = checks_.find(check_id);
    if (it != checks_.end()) {
      const auto pit = it->second.parts.find(agency);
      if (pit != it->second.parts.end() && pit->second.state == PartState::kSending) {
        pit->second.state = PartState::kSent;
      }
    }
  }
  DispatchWaiting(agency);
}

void CheckService::OnSessionClosed(const std::string& agency, uint64_t session) {
  held_size_.erase(session);
  // Queries sent over the closed connection and not answered may never have been read: they
  // go out again, oldest first, ahead of anything newer. The agent's replay cache makes the
  // resend safe, and the query id is kept so that an answer to either copy counts.
  std::vector<std::pair<common::TimePoint, std::string>> requeue;
  for (auto& [id, check] : checks_) {
    const auto pit = check.parts.find(agency);
    if (pit == check.parts.end() || pit->second.session != session) continue;
    Part& part = pit->second;
    if (part.state != PartState::kSending && part.state != PartState::kSent) continue;
    part.state = PartState::kQueued;
    requeue.emplace_back(check.raised_at, id);
  }
  if (requeue.empty()) return;
  std::sort(requeue.begin(), requeue.end());
  auto& queue = waiting_[agency];
  for (auto it = requeue.rbegin(); it != requeue.rend(); ++it) queue.push_front(it->second);
  common::LogWarn("query.requeued", {{"agency", agency}, {"queries", requeue.size()}});
  DispatchWaiting(agency);  // another connection of the agency may still be open
}

std::vector<audit::AuditEvent> CheckService::AnswerEvents(const Check& check, const Part& part,
                                                          const std::string& agency,
                                                          const crypto::SealedEnvelope& envelope,
                                                          const schemas::AnswerBody& answer,
                                                          const std::string& detail) const {
  const Staff agent{agency, "agent", agency, ""};
  const auto hash = envelope.Hash();
  const common::Bytes envelope_hash(hash.begin(), hash.end());
  std::vector<audit::AuditEvent> events;
  audit::AuditEvent received = EventFor(check, audit::EventType::kAnswerReceived, agent);
  received.agency = agency;
  received.level = part.level;
  received.policy_version = answer.policy_version;
  received.envelope_hashes.push_back(envelope_hash);
  received.detail = answer.held ? "held:" + answer.match : "not_held";
  if (!detail.empty()) received.detail += ";" + detail;
  bool any_withheld = false;
  for (const auto& c : answer.categories) {
    const std::string disposition(Disposition(c.outcome));
    audit::AuditEvent ce = EventFor(check,
                                    disposition == "disclosed" || disposition == "redacted"
                                        ? audit::EventType::kCategoryDisclosed
                                        : audit::EventType::kCategoryWithheld,
                                    agent);
    ce.agency = agency;
    ce.level = c.level;
    ce.rule = c.rule;
    ce.policy_version = answer.policy_version;
    ce.outcome = disposition == "disclosed" || disposition == "redacted"
                     ? audit::Outcome::kOk
                     : audit::Outcome::kWithheld;
    ce.categories.push_back({c.category, disposition, c.rule});
    ce.envelope_hashes.push_back(envelope_hash);
    if (!detail.empty()) ce.detail = detail;
    if (ce.outcome == audit::Outcome::kWithheld) any_withheld = true;
    if (received.categories.size() < audit::kMaxListItems) {
      received.categories.push_back({c.category, disposition, c.rule});
    }
    events.push_back(std::move(ce));
  }
  if (any_withheld) received.outcome = audit::Outcome::kPartial;
  events.push_back(std::move(received));
  return events;
}

Status CheckService::OnAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope) {
  auto opened = courier_.OpenFromQueued(agency, envelope);
  if (!opened.ok()) {
    common::LogWarn("answer.rejected", {{"agency", agency}, {"reason", opened.status().message()}});
    if (options_.metrics != nullptr) options_.metrics->AnswerReceived(agency, "rejected");
    RecordFailure(agency, "answer_rejected");
    return opened.status();
  }
  // Taken only once its replay record is on disk, with those of the other answers that arrived
  // meanwhile (one sync for all of them). Until then nothing of it counts.
  auto shared = std::make_shared<crypto::OpenedEnvelope>(std::move(*opened));
  ReplayThen([this, agency, envelope, shared](Status recorded) {
    Status s = recorded;
    if (!recorded.ok()) {
      common::LogError("answer.replay_unrecorded",
                       {{"agency", agency}, {"error", recorded.ToString()}});
      RecordFailure(agency, "answer_replay_unrecorded");
    } else {
      s = AcceptAnswer(agency, envelope, *shared);
    }
    if (!s.ok() && hub_) {
      schemas::ErrorMessage e;
      e.code = s.code() == StatusCode::kUnavailable ? "unavailable" : "bad_request";
      hub_->Send(agency, e.ToJson().dump());
    }
  });
  return Status::Ok();
}

Status CheckService::AcceptAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope,
                                  const crypto::OpenedEnvelope& opened) {
  const auto& header = opened.header;
  auto body = schemas::AnswerBody::Parse(common::AsString(opened.plaintext.span()));
  const auto check_it = checks_.find(header.check_ref);
  if (header.type != "answer" || !body.ok() || check_it == checks_.end()) {
    common::LogWarn("answer.unmatched", {{"agency", agency}, {"check", header.check_ref}});
    if (options_.metrics != nullptr) options_.metrics->AnswerReceived(agency, "unmatched");
    RecordFailure(agency, "answer_unmatched");
    return InvalidArgument("answer does not match a check");
  }
  Check& check = check_it->second;
  if (!check.outcome.empty()) {
    // Closed by its MASH decision: what comes now is not part of the check.
    common::LogWarn("answer.check_closed", {{"agency", agency}, {"check", check.id}});
    RecordFailure(agency, "answer_after_close", check.id);
    return InvalidArgument("answer does not match a query");
  }
  const auto part_it = check.parts.find(agency);
  if (part_it != check.parts.end() && !part_it->second.review_announced.empty() &&
      part_it->second.query_id == body->query_id &&
      (part_it->second.state == PartState::kRecording ||
       part_it->second.state == PartState::kAnswered)) {
    return OnFollowUp(check, part_it->second, envelope, header, std::move(*body));
  }
  // The answer may overtake the socket's acknowledgement of the query (kSending).
  if (part_it == check.parts.end() ||
      (part_it->second.state != PartState::kSent && part_it->second.state != PartState::kSending) ||
      part_it->second.query_id != body->query_id) {
    common::LogWarn("answer.unmatched", {{"agency", agency}, {"check", header.check_ref}});
    if (options_.metrics != nullptr) options_.metrics->AnswerReceived(agency, "unmatched");
    RecordFailure(agency, "answer_unmatched", check.id);
    return InvalidArgument("answer does not match a query");
  }
  Part& part = part_it->second;
  part.state = PartState::kRecording;
  part.answered_at = clock_.Now();
  const bool late = check.due_at != common::TimePoint{} && part.answered_at >= check.due_at;
  if (options_.metrics != nullptr) {
    // The outcome is the match band the agency reports (confirmed, possible, none; the schema
    // allows no other): no more than the audit trail's answer_received event says.
    options_.metrics->AnswerReceived(agency, body->match);
    options_.metrics->AnswerRoundTrip(agency, part.answered_at - part.sent_at);
  }

  // The answer counts only once the log holds it: one event per category (what was disclosed,
  // what was withheld and why), then the answer itself, whose receipt goes to the agency.
  std::vector<audit::AuditEvent> events =
      AnswerEvents(check, part, agency, envelope, *body, late ? "late" : "");
  part.answer = std::move(*body);
  part.late = late;
  AppendAll(std::move(events),
            [this, id = check.id, agency, envelope, answer_id = header.id](Result<uint64_t> r) {
              OnAnswerCommitted(id, agency, envelope, answer_id, std::move(r));
            });
  return Status::Ok();
}

Status CheckService::OnReviewPending(const std::string& agency,
                                     const crypto::SealedEnvelope& envelope) {
  auto opened = courier_.OpenFrom(agency, envelope);
  if (!opened.ok()) {
    common::LogWarn("review_pending.rejected",
                    {{"agency", agency}, {"reason", opened.status().message()}});
    RecordFailure(agency, "review_pending_rejected");
    return opened.status();
  }
  const auto& header = opened->header;
  auto body = schemas::ReviewPendingBody::Parse(common::AsString(opened->plaintext.span()));
  const auto check_it = checks_.find(header.check_ref);
  Part* part = nullptr;
  if (header.type == "review_pending" && body.ok() && check_it != checks_.end()) {
    const auto pit = check_it->second.parts.find(agency);
    // Only for the query this agency was sent, before or after its first answer.
    if (pit != check_it->second.parts.end() && pit->second.query_id == body->query_id &&
        (pit->second.state == PartState::kSending || pit->second.state == PartState::kSent ||
         pit->second.state == PartState::kRecording || pit->second.state == PartState::kAnswered)) {
      part = &pit->second;
    }
  }
  if (part == nullptr) {
    common::LogWarn("review_pending.unmatched", {{"agency", agency}, {"check", header.check_ref}});
    RecordFailure(agency, "review_pending_unmatched",
                  check_it == checks_.end() ? "" : check_it->second.id);
    return InvalidArgument("review_pending does not match a query");
  }
  Check& check = check_it->second;
  std::vector<std::string> categories;
  for (const auto& c : body->categories) categories.push_back(c.category);
  std::sort(categories.begin(), categories.end());
  categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
  if (!part->review_announced.empty()) {
    // The same announcement again (the agent was asked again after a lost connection) changes
    // nothing; another one for the same query is refused.
    if (part->review_announced == categories) return Status::Ok();
    common::LogWarn("review_pending.conflict", {{"agency", agency}, {"check", check.id}});
    RecordFailure(agency, "review_pending_conflict", check.id);
    return InvalidArgument("review_pending does not match a query");
  }
  part->review_announced = categories;

  const Staff agent{agency, "agent", agency, ""};
  audit::AuditEvent e = EventFor(check, audit::EventType::kReviewPending, agent);
  e.agency = agency;
  e.level = part->level;
  e.policy_version = body->policy_version;
  for (const auto& c : body->categories) {
    if (e.categories.size() < audit::kMaxListItems) {
      e.categories.push_back({c.category, "custodian_review", c.why});
    }
  }
  const auto hash = envelope.Hash();
  e.envelope_hashes.push_back(common::Bytes(hash.begin(), hash.end()));
  e.detail = "awaiting_agency_review";
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(e));
  // Shown as waiting for the custodian only once the log holds the announcement.
  AppendAll(std::move(events), [this, id = check.id, agency, categories](Result<uint64_t> r) {
    const auto it = checks_.find(id);
    if (it == checks_.end()) return;
    const auto pit = it->second.parts.find(agency);
    if (pit == it->second.parts.end()) return;
    Part& p = pit->second;
    if (!r.ok()) {
      p.review_announced.clear();
      common::LogError("review_pending.audit_failed",
                       {{"check", id}, {"agency", agency}, {"error", r.status().ToString()}});
      return;
    }
    p.review = categories;
    p.review_since = clock_.Now();
    (void)Save(it->second);
    common::LogInfo("review_pending.received",
                    {{"check", id}, {"agency", agency}, {"categories", categories.size()}});
  });
  return Status::Ok();
}

Status CheckService::OnFollowUp(Check& check, Part& part, const crypto::SealedEnvelope& envelope,
                                const crypto::EnvelopeHeader& header, schemas::AnswerBody body) {
  const std::string& agency = part.agency;
  const auto waiting = [&](const std::string& category) {
    return std::find(part.review.begin(), part.review.end(), category) != part.review.end() &&
           std::find(part.review_recording.begin(), part.review_recording.end(), category) ==
               part.review_recording.end();
  };
  // Only categories that wait for the custodian, each once, each decided.
  bool fits = !body.categories.empty();
  std::vector<std::string> seen;
  for (const auto& c : body.categories) {
    if (!waiting(c.category) || c.outcome == "review" ||
        std::find(seen.begin(), seen.end(), c.category) != seen.end()) {
      fits = false;
      break;
    }
    seen.push_back(c.category);
  }
  if (!fits) {
    common::LogWarn("answer.unmatched", {{"agency", agency}, {"check", check.id}});
    RecordFailure(agency, "follow_up_unmatched", check.id);
    return InvalidArgument("answer does not match a query");
  }
  const bool late = check.due_at != common::TimePoint{} && clock_.Now() >= check.due_at;
  for (const auto& c : seen) part.review_recording.push_back(c);
  std::vector<audit::AuditEvent> events = AnswerEvents(
      check, part, agency, envelope, body, late ? "custodian_review;late" : "custodian_review");
  AppendAll(std::move(events), [this, id = check.id, agency, envelope, answer_id = header.id,
                                body = std::move(body), late](Result<uint64_t> r) {
    OnFollowUpCommitted(id, agency, envelope, answer_id, body, late, std::move(r));
  });
  return Status::Ok();
}

void CheckService::OnFollowUpCommitted(const std::string& id, const std::string& agency,
                                       const crypto::SealedEnvelope& envelope,
                                       const std::string& answer_id,
                                       const schemas::AnswerBody& body, bool late,
                                       Result<uint64_t> committed) {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return;
  const auto pit = it->second.parts.find(agency);
  if (pit == it->second.parts.end()) return;
  Part& part = pit->second;
  const auto drop = [](std::vector<std::string>& from, const std::string& c) {
    from.erase(std::remove(from.begin(), from.end(), c), from.end());
  };
  for (const auto& c : body.categories) drop(part.review_recording, c.category);
  if (!committed.ok()) {
    // Not shown: the categories still wait, and the agency is told (generically).
    common::LogError("answer.audit_failed",
                     {{"check", id}, {"agency", agency}, {"error", committed.status().ToString()}});
    if (hub_) {
      schemas::ErrorMessage e;
      e.code = "unavailable";
      hub_->Send(agency, e.ToJson().dump());
    }
    return;
  }
  if (part.state != PartState::kAnswered || !part.answer) {
    // The first answer was not recorded: nothing to merge into.
    common::LogError("answer.follow_up_orphaned", {{"check", id}, {"agency", agency}});
    return;
  }
  for (const auto& c : body.categories) {
    auto& cats = part.answer->categories;
    const auto at = std::find_if(cats.begin(), cats.end(),
                                 [&](const auto& x) { return x.category == c.category; });
    if (at != cats.end()) {
      *at = c;
    } else {
      cats.push_back(c);
    }
    drop(part.review, c.category);
  }
  if (late) part.late = true;
  (void)Save(it->second);
  if (policy_observer_ != nullptr) {
    policy_observer_->OnAgencyPolicySeen(agency, body.policy_version, clock_.Now());
  }
  common::LogInfo("answer.follow_up_received", {{"check", id},
                                                {"agency", agency},
                                                {"categories", body.categories.size()},
                                                {"still_waiting", part.review.size()},
                                                {"late", late},
                                                {"audit_seq", *committed}});
  SendReceipt(agency, id, envelope, answer_id, *committed);
}

void CheckService::OnAnswerCommitted(const std::string& id, const std::string& agency,
                                     const crypto::SealedEnvelope& envelope,
                                     const std::string& answer_id, Result<uint64_t> committed) {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return;
  const auto pit = it->second.parts.find(agency);
  if (pit == it->second.parts.end() || pit->second.state != PartState::kRecording) return;
  Part& part = pit->second;
  if (!committed.ok()) {
    // Fail closed: an answer the log could not record is not shown, and the agency is told
    // (generically) that it was not taken.
    part.state = PartState::kFailed;
    part.answer.reset();
    common::LogError("answer.audit_failed",
                     {{"check", id}, {"agency", agency}, {"error", committed.status().ToString()}});
    if (hub_) {
      schemas::ErrorMessage e;
      e.code = "unavailable";
      hub_->Send(agency, e.ToJson().dump());
    }
    NoteIfCompiled(it->second);
    WakeWaiters(id);
    DispatchWaiting(agency);
    return;
  }
  part.state = PartState::kAnswered;
  NoteIfCompiled(it->second);
  if (policy_observer_ != nullptr) {
    policy_observer_->OnAgencyPolicySeen(agency, part.answer->policy_version, part.answered_at);
  }
  common::LogInfo("answer.received",
                  {{"check", id},
                   {"agency", agency},
                   {"held", part.answer->held},
                   {"elapsed_ms", Millis(part.answered_at) - Millis(part.sent_at)},
                   {"audit_seq", *committed}});
  DispatchWaiting(agency);
  // The receipt, and the compiled check to those waiting for it, once the row is on disk (a
  // failure to store is logged and recorded; the answer is in the audit log either way).
  SaveThen(it->second, [this, id, agency, envelope, answer_id, seq = *committed](Status) {
    WakeWaiters(id);
    SendReceipt(agency, id, envelope, answer_id, seq);
  });
}

void CheckService::SendReceipt(const std::string& agency, const std::string& check_ref,
                               const crypto::SealedEnvelope& answer, const std::string& answer_id,
                               uint64_t seq) {
  const uint64_t session = hub_ ? hub_->ActiveSession(agency) : 0;
  if (session == 0) return KeepReceipt(agency, check_ref, answer, answer_id, seq);
  const uint64_t held = held_size_[session];
  auto receipt = audit_.MakeReceipt(seq, held);
  if (!receipt.ok()) {
    common::LogError(
        "receipt.failed",
        {{"agency", agency}, {"check", check_ref}, {"error", receipt.status().ToString()}});
    return;
  }
  auto event = audit_.EncodedEvent(seq);
  if (!event.ok()) {
    common::LogError("receipt.failed", {{"agency", agency}, {"check", check_ref}});
    return;
  }
  schemas::ReceiptBody body;
  body.answer_id = answer_id;
  const auto hash = answer.Hash();
  body.answer_hash = common::HexEncode(hash);
  body.event = common::Base64Encode(*event);
  body.receipt = receipt->ToJson();
  crypto::EnvelopeHeader header;
  header.type = "receipt";
  header.check_ref = check_ref;
  header.policy_hash = agreement_->enforced().version;
  auto sealed = courier_.Seal(agency, header, body.ToJson().dump(),
                              std::chrono::seconds(crypto::kMaxLifetimeSeconds));
  if (!sealed.ok()) {
    common::LogError("receipt.seal_failed", {{"agency", agency}, {"check", check_ref}});
    return;
  }
  const std::string frame =
      schemas::EnvelopeFrame(schemas::MessageType::kReceipt, sealed->envelope.ToJson()).dump();
  // The agent holds each receipt's checkpoint once it has taken the receipt, and takes the frames
  // of a connection in the order they were sealed (outbox.h). So the next receipt sealed for this
  // connection proves consistency from this one's checkpoint, even while this one waits to be
  // sent: a proof from the size held before it would not start where the agent then stands.
  // Should the connection close first, the receipt goes out again on another, whose welcome
  // sets the held size afresh.
  if (auto cp = audit::ParseCheckpoint(receipt->checkpoint); cp.ok()) {
    held_size_[session] = std::max(held, cp->checkpoint.size);
  }
  std::weak_ptr<int> alive = alive_;
  // In sequence order behind any query to the agency still waiting for its audit commit
  // (outbox.h); usually at once.
  sealed->ticket.Send([this, alive, agency, session, frame, check_ref, answer, answer_id, seq] {
    if (alive.expired() || !hub_) return;
    const uint64_t sent = hub_->SendTo(
        agency, session, frame,
        [this, alive, agency, check_ref, answer, answer_id, seq](bool written) {
          if (alive.expired() || written) return;
          // The connection closed before the receipt was written: it goes out again on the next
          // connection the agency answers on (this one's held size no longer matters).
          common::LogWarn("receipt.requeued", {{"agency", agency}, {"check", check_ref}});
          KeepReceipt(agency, check_ref, answer, answer_id, seq);
          SendKeptReceipts(agency);
        });
    if (sent == 0) KeepReceipt(agency, check_ref, answer, answer_id, seq);
  });
}

void CheckService::KeepReceipt(const std::string& agency, const std::string& check_ref,
                               const crypto::SealedEnvelope& answer, const std::string& answer_id,
                               uint64_t seq) {
  auto& pending = unsent_receipts_[agency];
  if (pending.size() >= kMaxUnsentReceipts) {
    common::LogWarn("receipt.dropped", {{"agency", agency}, {"check", pending.front().check_ref}});
    pending.pop_front();
  }
  pending.push_back({check_ref, answer, answer_id, seq});
}

void CheckService::SendKeptReceipts(const std::string& agency) {
  if (!hub_ || hub_->ActiveSession(agency) == 0) return;
  const auto it = unsent_receipts_.find(agency);
  if (it == unsent_receipts_.end()) return;
  auto pending = std::move(it->second);
  unsent_receipts_.erase(it);
  for (const auto& r : pending) SendReceipt(agency, r.check_ref, r.answer, r.answer_id, r.seq);
}

std::optional<schemas::WelcomeAudit> CheckService::OnHello(const std::string& agency,
                                                           uint64_t session,
                                                           const schemas::Hello& hello) {
  uint64_t held = hello.checkpoint ? static_cast<uint64_t>(hello.checkpoint->size) : 0;
  const auto seal = audit_.LatestSeal();
  if (!seal) {
    held_size_[session] = held;
    return std::nullopt;
  }
  schemas::WelcomeAudit w;
  w.checkpoint = seal->text;
  const uint64_t size = seal->checkpoint.size;
  if (held > size) {
    // The agency has seen a longer log than this one: it will raise its alarm on this welcome.
    common::LogError("audit.agent_ahead",
                     {{"agency", agency}, {"agent_size", held}, {"log_size", size}});
  } else if (held > 0 && held < size) {
    auto proof = audit_.ConsistencyProof(held, size);
    if (!proof.ok()) {
      common::LogError("audit.proof_failed", {{"agency", agency}});
      return std::nullopt;
    }
    w.consistency_from = static_cast<int64_t>(held);
    for (const auto& h : *proof) w.consistency_proof.push_back(common::Base64Encode(h));
  }
  held_size_[session] = held > size ? held : size;
  return w;
}

void CheckService::OnAgentOnline(const std::string& agency) {
  if (options_.metrics != nullptr) options_.metrics->AgentConnected(agency, true);
  // Receipts the agency missed wait until an agent answers on the connection (OnSessionActive):
  // a probe that closes after its welcome would take them with it.
  DispatchWaiting(agency);
}

void CheckService::OnSessionActive(const std::string& agency, uint64_t) {
  SendKeptReceipts(agency);
}

void CheckService::OnAgentOffline(const std::string& agency) {
  if (options_.metrics != nullptr) options_.metrics->AgentConnected(agency, false);
  // Nothing to do: OnSessionClosed has already put back what the connection carried.
}

size_t CheckService::InFlightQueries() const {
  size_t n = 0;
  for (const auto& [_, check] : checks_) {
    if (!check.outcome.empty()) continue;
    for (const auto& [agency, part] : check.parts) {
      if (part.state == PartState::kSending || part.state == PartState::kSent ||
          part.state == PartState::kRecording) {
        ++n;
      }
    }
  }
  return n;
}

void CheckService::Sweep() {
  for (auto& [_, check] : checks_) {
    WatchDeadlines(check);
    NoteIfCompiled(check);
  }
  WakeWaiters();
  FlushUnauthenticated();
  courier_.PurgeReplayCache();
}

std::vector<std::string> CheckService::AwaitingReview(const Check& check) {
  std::vector<std::string> out;
  for (const auto& [agency, p] : check.parts) {
    if (ShownState(p) == "awaiting_agency_review") out.push_back(agency);
  }
  return out;
}

namespace {

std::string CategoryName(const std::string& agency_type, const std::string& category) {
  for (const auto& t : policy::Vocabulary::Builtin().Terms(policy::Dimension::kCategory)) {
    if (t.id == category && (t.agency_type.empty() || t.agency_type == agency_type)) return t.name;
  }
  return category;
}

std::string TermName(policy::Dimension d, const std::string& id) {
  const auto& v = policy::Vocabulary::Builtin();
  const int i = v.IndexOf(d, id);
  return i < 0 ? id : v.Terms(d)[static_cast<size_t>(i)].name;
}

// What happened to a category, in words a practitioner reads without the policy at hand.
std::string Explain(const schemas::CategoryAnswer& c, const std::string& agency_name,
                    const std::string& policy_version) {
  std::string why;
  if (c.outcome == "shared") {
    why = "Shared by " + agency_name;
  } else if (c.outcome == "redacted") {
    why = "Shared by " + agency_name + " with some details removed";
    if (!c.redacted.empty()) {
      why += " (";
      for (size_t i = 0; i < c.redacted.size(); ++i) why += (i ? ", " : "") + c.redacted[i];
      why += ")";
    }
  } else if (c.outcome == "review") {
    why = "Waiting for " + agency_name + "'s custodian to decide";
  } else {
    why = "Withheld by " + agency_name;
  }
  if (!c.reason.empty()) why += ": " + c.reason;
  if (!c.rule.empty()) why += " (rule " + c.rule + " of policy " + policy_version + ")";
  return why;
}

}  // namespace

nlohmann::json CheckService::ToJson(const Check& check) const {
  const auto now = clock_.Now();
  const bool closed = !check.outcome.empty() || check.decision == "rejected";
  nlohmann::json parts = nlohmann::json::array();
  std::vector<std::string> not_answered;
  std::vector<std::string> reviewing;
  for (const auto& [agency, p] : check.parts) {
    const RegisteredAgency* reg = courier_.FindAgency(agency);
    const std::string name = reg ? reg->name : agency;
    nlohmann::json j = {{"agency", agency},
                        {"name", name},
                        {"state", ShownState(p)},
                        {"level", p.level},
                        {"rule", p.rule}};
    if (p.sent_at != common::TimePoint{}) j["sent_at"] = common::FormatRfc3339(p.sent_at);
    if (p.chased_at != common::TimePoint{}) j["chased_at"] = common::FormatRfc3339(p.chased_at);
    const bool open = IsOpen(p) || !p.review.empty();
    if (open && check.due_at != common::TimePoint{} && now >= check.due_at) j["overdue"] = true;
    if (p.breached) j["breached"] = true;
    if (!p.review.empty()) {
      reviewing.push_back(name);
      j["review"] = {{"categories", p.review},
                     {"since", common::FormatRfc3339(p.review_since)},
                     {"overdue", p.review_overdue}};
    }
    if (p.late) j["late"] = true;
    if (p.answer && p.state == PartState::kAnswered) {
      j["answered_at"] = common::FormatRfc3339(p.answered_at);
      j["elapsed_ms"] = Millis(p.answered_at) - Millis(p.sent_at);
      j["answer"] = p.answer->ToJson();
      j["answer"].erase("query_id");
      const std::string type = reg ? reg->type : "";
      auto& cats = j["answer"]["categories"];
      for (size_t i = 0; i < cats.size() && i < p.answer->categories.size(); ++i) {
        const auto& c = p.answer->categories[i];
        cats[i]["name"] = CategoryName(type, c.category);
        cats[i]["why"] = Explain(c, name, p.answer->policy_version);
      }
    } else if (p.state != PartState::kAwaitingAuthorisation && p.state != PartState::kRejected) {
      not_answered.push_back(name);
    }
    parts.push_back(std::move(j));
  }
  nlohmann::json household = nlohmann::json::array();
  for (const auto& m : check.request.household) household.push_back(m.ToJson());
  nlohmann::json out{
      {"id", check.id},
      {"state", OverallState(check)},
      {"team", check.raised_by.team},
      {"raised_at", common::FormatRfc3339(check.raised_at)},
      {"raised_by", check.raised_by.user},
      {"purpose", check.request.purpose},
      {"purpose_name", TermName(policy::Dimension::kPurpose, check.request.purpose)},
      {"lawful_basis", check.request.lawful_basis},
      {"consent", check.request.ConsentTag()},
      {"urgency", check.request.urgency},
      {"level", check.request.level},
      {"policy_version", agreement_->enforced().version},
      {"obligations", check.obligations},
      {"authorisation", check.decision.empty()
                            ? nlohmann::json(nullptr)
                            : nlohmann::json{{"decision", check.decision},
                                             {"by", check.decided_by},
                                             {"at", common::FormatRfc3339(check.decided_at)},
                                             {"reason", check.decision_reason}}},
      {"awaiting_agency_review", AwaitingReview(check)},
      {"subject", check.request.subject.ToJson()},
      {"household", std::move(household)},
      {"agencies", std::move(parts)}};
  if (!check.request.override_ground.empty()) {
    out["override"] = {{"ground", check.request.override_ground},
                       {"ground_name", TermName(policy::Dimension::kOverrideGround,
                                                check.request.override_ground)},
                       {"justification", check.request.justification}};
  }
  if (!check.request.evidence_ref.empty()) out["consent_evidence"] = check.request.evidence_ref;
  if (check.compiled_at != common::TimePoint{}) {
    out["compiled_at"] = common::FormatRfc3339(check.compiled_at);
  }
  if (check.due_at != common::TimePoint{}) {
    out["due_at"] = common::FormatRfc3339(check.due_at);
    out["overdue"] =
        !closed && now >= check.due_at && (!not_answered.empty() || !reviewing.empty());
  }
  // Partial results are shown with who has not answered, never hidden.
  if ((!not_answered.empty() || !reviewing.empty()) && !closed) {
    std::string notes;
    for (const auto& n : not_answered)
      notes += (notes.empty() ? "" : "; ") + n + " has not answered";
    for (const auto& n : reviewing) {
      notes += (notes.empty() ? "" : "; ") + n + " has not answered everything: its custodian " +
               "is reviewing some categories";
    }
    if (!not_answered.empty()) out["not_answered"] = not_answered;
    out["note"] = notes;
  }
  out["decision"] = check.outcome.empty()
                        ? nlohmann::json(nullptr)
                        : nlohmann::json{{"outcome", check.outcome},
                                         {"rationale", check.rationale},
                                         {"by", check.outcome_by},
                                         {"at", common::FormatRfc3339(check.closed_at)}};
  return out;
}

nlohmann::json CheckService::Summary(const Check& check) const {
  const auto now = clock_.Now();
  int breaches = 0;
  int open = 0;
  for (const auto& [_, p] : check.parts) {
    if (p.breached) ++breaches;
    if (IsOpen(p) || !p.review.empty()) ++open;
  }
  nlohmann::json j = {{"id", check.id},
                      {"state", OverallState(check)},
                      {"team", check.raised_by.team},
                      {"raised_by", check.raised_by.user},
                      {"raised_at", common::FormatRfc3339(check.raised_at)},
                      {"purpose", check.request.purpose},
                      {"urgency", check.request.urgency},
                      {"agencies", check.parts.size()},
                      {"open_parts", open},
                      {"breaches", breaches},
                      {"override", !check.request.override_ground.empty()}};
  if (check.due_at != common::TimePoint{}) {
    j["due_at"] = common::FormatRfc3339(check.due_at);
    j["overdue"] = check.outcome.empty() && open > 0 && now >= check.due_at;
  }
  if (!check.outcome.empty()) j["outcome"] = check.outcome;
  return j;
}

void CheckService::Authorise(const std::string& id, const Staff& staff, bool approve,
                             const std::string& reason, Done done) {
  if (approve && draining_) {  // its queries would go out after the drain began
    RecordRefusal(staff, "broker_draining");
    return done(Unavailable("the broker is stopping"));
  }
  const auto it = checks_.find(id);
  if (it == checks_.end() || !it->second.recorded) return done(NotFound("no such check"));
  Check& check = it->second;
  if (!MayRead(check, staff)) {
    return Refuse(check, staff, "authorisation: not this team's check", NotFound("no such check"),
                  done);
  }
  const bool awaiting = std::any_of(check.parts.begin(), check.parts.end(), [](const auto& p) {
    return p.second.state == PartState::kAwaitingAuthorisation;
  });
  if (!awaiting || check.deciding) {
    return done(FailedPrecondition("the check does not await authorisation"));
  }
  const char* refusal = nullptr;
  if (staff.role != "manager") refusal = "only a MASH manager may authorise an override";
  if (staff.user == check.raised_by.user) {
    refusal = "a second person must authorise an override: not the one who raised it";
  }
  if (refusal != nullptr) {
    audit::AuditEvent e = EventFor(check, audit::EventType::kRequestRefused, staff);
    e.outcome = audit::Outcome::kRefused;
    e.detail = "authorisation";
    std::vector<audit::AuditEvent> events;
    events.push_back(std::move(e));
    AppendAll(std::move(events), [done, message = std::string(refusal)](Result<uint64_t> r) {
      if (!r.ok()) return done(Unavailable("cannot record the request now"));
      done(PermissionDenied(message));
    });
    return;
  }
  if (reason.empty()) return done(InvalidArgument("/reason: give the reason for the decision"));
  check.deciding = true;
  audit::AuditEvent e = EventFor(
      check, approve ? audit::EventType::kCheckAuthorised : audit::EventType::kCheckRejected,
      staff);
  e.outcome = approve ? audit::Outcome::kOk : audit::Outcome::kRejected;
  e.level = check.request.level;
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(e));
  AppendAll(std::move(events), [this, id, staff, approve, reason, done](Result<uint64_t> r) {
    const auto cit = checks_.find(id);
    if (cit == checks_.end()) return done(NotFound("no such check"));
    Check& c = cit->second;
    c.deciding = false;
    if (!r.ok()) return done(Unavailable("cannot record the decision now"));
    c.decided_by = staff.user;
    c.decision = approve ? "authorised" : "rejected";
    c.decision_reason = reason;
    c.decided_at = clock_.Now();
    // The deadline runs from authorisation: nothing was sent before it.
    if (approve) StartClock(c, c.decided_at);
    if (!approve) c.closed_at = c.decided_at;  // a rejected check is finished
    std::vector<std::string> agencies;
    for (auto& [agency, part] : c.parts) {
      if (part.state != PartState::kAwaitingAuthorisation) continue;
      part.state = approve ? PartState::kQueued : PartState::kRejected;
      if (approve) agencies.push_back(agency);
    }
    (void)Save(c);
    common::LogInfo("check.decided", {{"check", id}, {"decision", c.decision}});
    done(ToJson(c));
    for (const auto& a : agencies) {
      waiting_[a].push_back(id);
      DispatchWaiting(a);
    }
  });
}

Result<nlohmann::json> CheckService::Peek(const std::string& id) const {
  const auto it = checks_.find(id);
  if (it == checks_.end() || !it->second.recorded) return NotFound("no such check");
  return ToJson(it->second);
}

void CheckService::Show(const std::string& id, const Staff& staff, Done done,
                        std::chrono::seconds wait) {
  const auto it = checks_.find(id);
  if (it == checks_.end() || !it->second.recorded) {
    RecordRefusal(staff, "show: no such check");
    return done(NotFound("no such check"));
  }
  if (!MayRead(it->second, staff)) {
    return Refuse(it->second, staff, "show: not this team's check", NotFound("no such check"),
                  done);
  }
  wait = std::min(wait, kMaxWait);
  if (wait.count() > 0 && it->second.compiled_at == common::TimePoint{} &&
      waiter_count_ < kMaxWaiters) {
    // Shown (and its view recorded) once compiled, or when the wait is over (Sweep).
    waiters_[id].push_back(Waiter{staff, std::move(done), clock_.Now() + wait});
    ++waiter_count_;
    return;
  }
  ShowNow(id, staff, std::move(done));
}

void CheckService::ShowNow(const std::string& id, const Staff& staff, Done done) {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return done(NotFound("no such check"));
  audit::AuditEvent viewed = EventFor(it->second, audit::EventType::kResultViewed, staff);
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(viewed));
  AppendAll(std::move(events), [this, id, staff, done](Result<uint64_t> r) {
    if (!r.ok()) return done(Unavailable("cannot show the check now"));
    const auto shown = checks_.find(id);
    if (shown == checks_.end()) return done(NotFound("no such check"));
    done(ToJson(shown->second));
    if (options_.alerts != nullptr) options_.alerts->OnResultViewed(staff, id, clock_.Now());
  });
}

std::map<std::string, size_t> CheckService::CountByState() const {
  std::map<std::string, size_t> out;
  for (const auto& [_, check] : checks_) ++out[OverallState(check)];
  return out;
}

void CheckService::NoteIfCompiled(Check& check) {
  if (check.compiled_at != common::TimePoint{} || !check.recorded) return;
  for (const auto& [_, p] : check.parts) {
    if (IsOpen(p) || p.state == PartState::kAwaitingAuthorisation) return;
  }
  check.compiled_at = clock_.Now();
  // Every agency's part is settled: the check is compiled (from when its queries could go out:
  // raising, or the authorisation of an override).
  if (options_.metrics != nullptr)
    options_.metrics->CheckCompiled(check.compiled_at - check.started_at);
}

void CheckService::WakeWaiters(const std::string& id) {
  const auto now = clock_.Now();
  std::vector<std::pair<std::string, Waiter>> ready;
  for (auto it = id.empty() ? waiters_.begin() : waiters_.find(id); it != waiters_.end();) {
    const auto check = checks_.find(it->first);
    // Compiled, and on disk (not waiting in SaveThen's queue, whose flush wakes it).
    const bool compiled =
        check == checks_.end() ||
        (check->second.compiled_at != common::TimePoint{} &&
         std::find(save_ids_.begin(), save_ids_.end(), it->first) == save_ids_.end());
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      if (compiled || now >= w->until) {
        ready.emplace_back(it->first, std::move(*w));
        w = list.erase(w);
      } else {
        ++w;
      }
    }
    it = list.empty() ? waiters_.erase(it) : std::next(it);
    if (!id.empty()) break;
  }
  waiter_count_ -= ready.size();
  for (auto& [check_id, w] : ready) ShowNow(check_id, w.staff, std::move(w.done));
}

nlohmann::json CheckService::Agencies() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, reg] : courier_.agencies()) {
    out.push_back({{"id", id},
                   {"name", reg.name},
                   {"type", reg.type},
                   {"online", hub_ && hub_->IsOnline(id)}});
  }
  return out;
}

}  // namespace mash::broker

namespace mash::broker {

bool CheckService::IsOpen(const Part& part) {
  return part.state == PartState::kQueued || part.state == PartState::kSending ||
         part.state == PartState::kSent || part.state == PartState::kRecording;
}

bool CheckService::MayRead(const Check& check, const Staff& staff) {
  if (staff.user == check.raised_by.user && staff.role == check.raised_by.role) return true;
  if (staff.role != "practitioner" && staff.role != "manager") return false;
  return !staff.team.empty() && staff.team == check.raised_by.team;
}

void CheckService::RecordRefusal(const Check& check, const Staff& staff, std::string_view detail) {
  audit::AuditEvent e = EventFor(check, audit::EventType::kRequestRefused, staff);
  e.outcome = audit::Outcome::kRefused;
  e.detail = std::string(detail);
  AppendUnwaited(std::move(e));
}

void CheckService::Refuse(const Check& check, const Staff& staff, std::string_view detail,
                          Status error, const Done& done) {
  audit::AuditEvent e = EventFor(check, audit::EventType::kRequestRefused, staff);
  e.outcome = audit::Outcome::kRefused;
  e.detail = std::string(detail);
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(e));
  AppendAll(std::move(events), [done, error](Result<uint64_t> r) {
    if (!r.ok()) return done(Unavailable("cannot record the request now"));
    done(error);
  });
}

void CheckService::StartClock(Check& check, common::TimePoint from) const {
  check.started_at = from;
  const auto& v = policy::Vocabulary::Builtin();
  const int i = v.IndexOf(policy::Dimension::kUrgency, check.request.urgency);
  const auto hours =
      std::chrono::hours(i < 0 ? 4 : v.Terms(policy::Dimension::kUrgency)[i].deadline_hours);
  check.due_at = options_.due ? options_.due(from, check.request.urgency) : from + hours;
  check.chase_at = options_.chase ? options_.chase(from, check.request.urgency)
                                  : from + (check.due_at - from) * 3 / 4;
  check.chase_at = std::min(check.chase_at, check.due_at);
}

void CheckService::WatchDeadlines(Check& check) {
  if (!check.outcome.empty() || check.due_at == common::TimePoint{} || !check.recorded) return;
  const auto now = clock_.Now();
  if (now < check.chase_at) return;
  std::vector<audit::AuditEvent> events;
  const Staff hub{"mash-broker", "system", "hub", ""};
  for (auto& [agency, part] : check.parts) {
    const bool open = IsOpen(part) || !part.review.empty();
    if (!open) continue;
    if (part.chased_at == common::TimePoint{}) {
      part.chased_at = now;
      audit::AuditEvent e = EventFor(check, audit::EventType::kAgencyChased, hub);
      e.agency = agency;
      e.level = part.level;
      e.detail = part.review.empty() ? "unanswered" : "awaiting_agency_review";
      events.push_back(std::move(e));
      common::LogWarn("deadline.chased", {{"check", check.id},
                                          {"agency", agency},
                                          {"due_at", common::FormatRfc3339(check.due_at)}});
      SendChase(check, part);
    }
    if (now >= check.due_at && !part.breached) {
      part.breached = true;
      if (!part.review.empty()) part.review_overdue = true;
      audit::AuditEvent e = EventFor(check, audit::EventType::kDeadlineBreached, hub);
      e.agency = agency;
      e.level = part.level;
      e.outcome = audit::Outcome::kFailed;
      e.detail = part.review.empty() ? "unanswered" : "awaiting_agency_review";
      events.push_back(std::move(e));
      common::LogWarn("deadline.breached", {{"check", check.id}, {"agency", agency}});
    }
  }
  if (events.empty()) return;
  (void)Save(check);
  for (auto& e : events) AppendUnwaited(std::move(e));
}

void CheckService::SendChase(const Check& check, const Part& part) {
  if (!hub_ || !hub_->IsOnline(part.agency) || part.query_id.empty()) return;
  schemas::ChaseBody body;
  body.query_id = part.query_id;
  body.deadline = common::FormatRfc3339(check.due_at);
  body.urgency = check.request.urgency;
  body.state = part.review.empty() ? "unanswered" : "awaiting_review";
  const crypto::EnvelopeHeader header = HeaderFor(check, "chase");
  auto sealed = courier_.Seal(part.agency, header, body.ToJson().dump(), options_.query_lifetime);
  if (!sealed.ok()) {
    common::LogError("chase.seal_failed", {{"check", check.id}, {"agency", part.agency}});
    return;
  }
  std::weak_ptr<int> alive = alive_;
  sealed->ticket.Send(
      [this, alive, agency = part.agency,
       frame =
           schemas::EnvelopeFrame(schemas::MessageType::kChase, sealed->envelope.ToJson()).dump()] {
        if (!alive.expired() && hub_) hub_->Send(agency, frame);
      });
}

nlohmann::json CheckService::ToDocument(const Check& check) {
  const auto t = [](common::TimePoint p) { return Millis(p); };
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& [agency, p] : check.parts) {
    nlohmann::json j = {{"state", static_cast<int>(p.state)},
                        {"level", p.level},
                        {"rule", p.rule},
                        {"query_id", p.query_id},
                        {"sent_at", t(p.sent_at)},
                        {"answered_at", t(p.answered_at)},
                        {"review_announced", p.review_announced},
                        {"review", p.review},
                        {"review_since", t(p.review_since)},
                        {"review_overdue", p.review_overdue},
                        {"late", p.late},
                        {"chased_at", t(p.chased_at)},
                        {"breached", p.breached}};
    if (p.answer) j["answer"] = p.answer->ToJson();
    parts[agency] = std::move(j);
  }
  return {{"format", "mash-check-v1"},
          {"id", check.id},
          {"request", check.request.ToJson()},
          {"raised_by",
           {{"user", check.raised_by.user},
            {"role", check.raised_by.role},
            {"organisation", check.raised_by.organisation},
            {"team", check.raised_by.team}}},
          {"subjects", check.subjects},
          {"obligations", check.obligations},
          {"authorisation",
           {{"by", check.decided_by},
            {"decision", check.decision},
            {"reason", check.decision_reason},
            {"at", t(check.decided_at)}}},
          {"raised_at", t(check.raised_at)},
          {"started_at", t(check.started_at)},
          {"due_at", t(check.due_at)},
          {"chase_at", t(check.chase_at)},
          {"compiled_at", t(check.compiled_at)},
          {"decision",
           {{"outcome", check.outcome},
            {"rationale", check.rationale},
            {"by", check.outcome_by},
            {"at", t(check.closed_at)}}},
          {"parts", std::move(parts)}};
}

Result<CheckService::Check> CheckService::FromDocument(const nlohmann::json& doc) {
  try {
    if (doc.at("format") != "mash-check-v1") return DataLoss("unknown check format");
    const auto t = [](const nlohmann::json& v) {
      return common::TimePoint(std::chrono::milliseconds(v.get<int64_t>()));
    };
    Check c;
    c.id = doc.at("id").get<std::string>();
    MASH_ASSIGN_OR_RETURN(c.request, RaiseRequest::FromJson(doc.at("request")));
    const auto& by = doc.at("raised_by");
    c.raised_by = Staff{by.at("user"), by.at("role"), by.at("organisation"), by.at("team")};
    c.subjects = doc.at("subjects").get<std::vector<std::string>>();
    c.obligations = doc.at("obligations").get<std::vector<std::string>>();
    const auto& a = doc.at("authorisation");
    c.decided_by = a.at("by");
    c.decision = a.at("decision");
    c.decision_reason = a.at("reason");
    c.decided_at = t(a.at("at"));
    c.raised_at = t(doc.at("raised_at"));
    c.started_at = t(doc.at("started_at"));
    c.due_at = t(doc.at("due_at"));
    c.chase_at = t(doc.at("chase_at"));
    if (const auto compiled = doc.find("compiled_at"); compiled != doc.end()) {
      c.compiled_at = t(*compiled);
    }
    const auto& d = doc.at("decision");
    c.outcome = d.at("outcome");
    c.rationale = d.at("rationale");
    c.outcome_by = d.at("by");
    c.closed_at = t(d.at("at"));
    if (const auto ack = doc.find("alert_ack"); ack != doc.end()) {  // before hub_alert
      c.legacy_ack_by = ack->at("by");
      c.legacy_ack_note = ack->at("note");
      c.legacy_ack_at = t(ack->at("at"));
    }
    c.recorded = true;
    for (const auto& [agency, j] : doc.at("parts").items()) {
      Part p;
      p.agency = agency;
      const int state = j.at("state").get<int>();
      if (state < 0 || state > static_cast<int>(PartState::kRejected)) {
        return DataLoss("bad part state");
      }
      p.state = static_cast<PartState>(state);
      p.level = j.at("level");
      p.rule = j.at("rule");
      p.query_id = j.at("query_id");
      p.sent_at = t(j.at("sent_at"));
      p.answered_at = t(j.at("answered_at"));
      p.review_announced = j.at("review_announced").get<std::vector<std::string>>();
      p.review = j.at("review").get<std::vector<std::string>>();
      p.review_since = t(j.at("review_since"));
      p.review_overdue = j.at("review_overdue");
      p.late = j.at("late");
      p.chased_at = t(j.at("chased_at"));
      p.breached = j.at("breached");
      if (const auto it = j.find("answer"); it != j.end()) {
        MASH_ASSIGN_OR_RETURN(p.answer, schemas::AnswerBody::Parse(it->dump()));
      }
      c.parts.emplace(agency, std::move(p));
    }
    if (doc.find("compiled_at") == doc.end()) {
      // Stored before compiled_at was kept: the last answer's time, when none is open.
      bool open = false;
      for (const auto& [_, p] : c.parts) {
        open = open || IsOpen(p) || p.state == PartState::kAwaitingAuthorisation;
        c.compiled_at = std::max(c.compiled_at, p.answered_at);
      }
      if (open) c.compiled_at = common::TimePoint{};
    }
    return c;
  } catch (const nlohmann::json::exception&) {
    return DataLoss("a stored check does not parse");
  }
}

StoredCheck CheckService::RowOf(const Check& check) const {
  StoredCheck row;
  row.id = check.id;
  row.team = check.raised_by.team;
  row.raised_by = check.raised_by.user;
  row.state = OverallState(check);
  row.raised_at_ms = Millis(check.raised_at);
  row.closed_at_ms = check.closed_at == common::TimePoint{} ? 0 : Millis(check.closed_at);
  row.document = ToDocument(check).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return row;
}

Status CheckService::Save(const Check& check) {
  if (options_.store == nullptr) return Status::Ok();
  Status s = options_.store->Put(RowOf(check));
  if (!s.ok()) {
    common::LogError("check.store_failed", {{"check", check.id}, {"error", s.ToString()}});
    RecordFailure("", "check_store_failed", check.id);
  }
  return s;
}

void CheckService::SaveThen(const Check& check, std::function<void(Status)> then) {
  if (options_.store == nullptr) return then(Status::Ok());
  save_ids_.push_back(check.id);
  save_then_.push_back(std::move(then));
  PostFlush();
}

void CheckService::ReplayThen(std::function<void(Status)> then) {
  replay_then_.push_back(std::move(then));
  PostFlush();
}

void CheckService::PostFlush() {
  if (save_posted_) return;
  save_posted_ = true;
  // Behind whatever the io thread already has to do: the answers and raises that arrive while
  // one batch syncs go to disk together in the next.
  std::weak_ptr<int> alive = alive_;
  post_([this, alive] {
    if (!alive.expired()) FlushSaves();
  });
}

void CheckService::FlushSaves() {
  save_posted_ = false;
  if (!replay_then_.empty()) {
    std::vector<std::function<void(Status)>> then = std::move(replay_then_);
    replay_then_.clear();
    const Status recorded = courier_.CommitReplay();
    for (auto& t : then) t(recorded);
  }
  if (save_ids_.empty()) return;
  std::vector<std::string> ids = std::move(save_ids_);
  std::vector<std::function<void(Status)>> then = std::move(save_then_);
  save_ids_.clear();
  save_then_.clear();
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<StoredCheck> rows;
  rows.reserve(ids.size());
  for (const auto& id : ids) {
    // Written as it is now: later changes queued with it are in the same row.
    if (const auto it = checks_.find(id); it != checks_.end()) rows.push_back(RowOf(it->second));
  }
  const Status s = options_.store->PutAll(rows);
  if (!s.ok()) {
    common::LogError("check.store_failed", {{"checks", rows.size()}, {"error", s.ToString()}});
    for (const auto& row : rows) RecordFailure("", "check_store_failed", row.id);
  }
  for (auto& t : then) t(s);
}

Status CheckService::Load() {
  if (options_.store == nullptr) return Status::Ok();
  MASH_ASSIGN_OR_RETURN(auto rows, options_.store->LoadUnpurged());
  size_t requeued = 0;
  for (const auto& row : rows) {
    auto doc = nlohmann::json::parse(row.document, nullptr, false);
    if (doc.is_discarded()) return DataLoss("stored check " + row.id + " does not parse");
    auto check = FromDocument(doc);
    if (!check.ok()) return DataLoss("stored check " + row.id + ": " + check.status().message());
    for (auto& [agency, part] : check->parts) {
      // What was on its way when the broker stopped goes out again (same query id: an answer to
      // either copy counts, and the agent's replay cache refuses a duplicate envelope). An
      // answer whose audit events had not committed was never shown: it is asked for again.
      if (part.state == PartState::kSending || part.state == PartState::kSent ||
          part.state == PartState::kRecording) {
        part.state = PartState::kQueued;
        part.answer.reset();
      }
      if (part.state == PartState::kQueued && check->outcome.empty()) {
        waiting_[agency].push_back(check->id);
        ++requeued;
      }
      if (part.state == PartState::kAnswered && part.answer && policy_observer_ != nullptr) {
        policy_observer_->OnAgencyPolicySeen(agency, part.answer->policy_version, part.answered_at);
      }
    }
    const auto loaded = checks_.emplace(check->id, std::move(*check)).first;
    if (options_.alerts != nullptr) {
      const Check& c = loaded->second;
      options_.alerts->OnCheckLoaded(c.raised_by, c.id, !c.request.override_ground.empty(),
                                     OverrideSummary(c), c.raised_at, c.legacy_ack_by,
                                     c.legacy_ack_note, c.legacy_ack_at);
    }
  }
  common::LogInfo("checks.loaded", {{"checks", checks_.size()}, {"queued", requeued}});
  return Status::Ok();
}

Result<nlohmann::json> CheckService::List(const Staff& staff, const std::string& filter) const {
  if (staff.role != "practitioner" && staff.role != "manager") {
    return PermissionDenied("only MASH practitioners and managers list checks");
  }
  if (!filter.empty() && filter != "open" && filter != "overdue" &&
      filter != "awaiting_authorisation" && filter != "closed") {
    return InvalidArgument("state: one of open, overdue, awaiting_authorisation, closed");
  }
  std::vector<const Check*> shown;
  for (const auto& [_, c] : checks_) {
    if (!c.recorded || !MayRead(c, staff)) continue;
    const std::string state = OverallState(c);
    const bool closed = state == "closed" || state == "rejected";
    if (filter == "open" && closed) continue;
    if (filter == "closed" && !closed) continue;
    if (filter == "awaiting_authorisation" && state != "awaiting_authorisation") continue;
    if (filter == "overdue" && !Summary(c).value("overdue", false)) continue;
    shown.push_back(&c);
  }
  std::sort(shown.begin(), shown.end(),
            [](const Check* a, const Check* b) { return a->raised_at > b->raised_at; });
  nlohmann::json out = nlohmann::json::array();
  for (const Check* c : shown) out.push_back(Summary(*c));
  return nlohmann::json{{"checks", std::move(out)}};
}

void CheckService::Decide(const std::string& id, const Staff& staff, const std::string& outcome,
                          const std::string& rationale, Done done) {
  const auto it = checks_.find(id);
  if (it == checks_.end() || !it->second.recorded) {
    RecordRefusal(staff, "decide: no such check");
    return done(NotFound("no such check"));
  }
  Check& check = it->second;
  if (!MayRead(check, staff)) {
    return Refuse(check, staff, "decide: not this team's check", NotFound("no such check"), done);
  }
  if (staff.role != "practitioner" && staff.role != "manager") {
    return Refuse(check, staff, "decide: role",
                  PermissionDenied("only MASH practitioners and managers record decisions"), done);
  }
  if (std::find(kMashOutcomes.begin(), kMashOutcomes.end(), outcome) == kMashOutcomes.end()) {
    RecordRefusal(check, staff, "decide: invalid_request");
    return done(InvalidArgument(
        "/outcome: one of information_and_advice, early_help, child_and_family_assessment, "
        "strategy_discussion, no_further_action"));
  }
  if (rationale.size() < 10 || rationale.size() > 4000) {
    RecordRefusal(check, staff, "decide: invalid_request");
    return done(InvalidArgument("/rationale: give the rationale, 10 to 4000 characters"));
  }
  const std::string state = OverallState(check);
  if (state == "awaiting_authorisation" || state == "rejected" || state == "closed" ||
      check.closing) {
    RecordRefusal(check, staff, "decide: state");
    return done(FailedPrecondition("a decision cannot be recorded on a check that is " +
                                   (check.closing ? std::string("closing") : state)));
  }
  check.closing = true;
  audit::AuditEvent e = EventFor(check, audit::EventType::kMashDecisionRecorded, staff);
  e.level = check.request.level;
  e.detail = "outcome:" + outcome;
  std::vector<audit::AuditEvent> events;
  events.push_back(std::move(e));
  AppendAll(std::move(events), [this, id, staff, outcome, rationale, done](Result<uint64_t> r) {
    const auto cit = checks_.find(id);
    if (cit == checks_.end()) return done(NotFound("no such check"));
    Check& c = cit->second;
    c.closing = false;
    if (!r.ok()) return done(Unavailable("cannot record the decision now"));
    c.outcome = outcome;
    c.rationale = rationale;
    c.outcome_by = staff.user;
    c.closed_at = clock_.Now();
    size_t unanswered = 0;
    for (auto& [_, part] : c.parts) {
      if (part.state == PartState::kQueued || part.state == PartState::kSending ||
          part.state == PartState::kSent) {
        part.state = PartState::kExpired;  // shown as no_answer
        ++unanswered;
      }
    }
    (void)Save(c);
    common::LogInfo("check.closed",
                    {{"check", id}, {"outcome", outcome}, {"unanswered", unanswered}});
    done(ToJson(c));
  });
}

nlohmann::json CheckService::OverrideDetails(const Check& c) const {
  nlohmann::json j = {
      {"raised_at", common::FormatRfc3339(c.raised_at)},
      {"raised_by", c.raised_by.user},
      {"team", c.raised_by.team},
      {"state", OverallState(c)},
      {"purpose", c.request.purpose},
      {"urgency", c.request.urgency},
      {"consent", c.request.consent_state},
      {"ground", c.request.override_ground},
      {"ground_name", TermName(policy::Dimension::kOverrideGround, c.request.override_ground)},
      {"justification", c.request.justification},
      {"agencies", c.parts.size()}};
  if (!c.decision.empty()) {
    j["authorisation"] = {{"decision", c.decision},
                          {"by", c.decided_by},
                          {"at", common::FormatRfc3339(c.decided_at)},
                          {"reason", c.decision_reason}};
  }
  return j;
}

std::string CheckService::OverrideSummary(const Check& c) {
  if (c.request.override_ground.empty()) return "";
  // The ground's name, never the justification (which may name people).
  return "Check raised without consent: " +
         TermName(policy::Dimension::kOverrideGround, c.request.override_ground);
}

size_t CheckService::PurgeExpired() {
  if (options_.retention <= std::chrono::seconds::zero()) return 0;
  const auto cutoff = clock_.Now() - options_.retention;
  size_t scheduled = 0;
  const Staff system{"mash-broker", "system", "hub", ""};
  for (auto& [id, c] : checks_) {
    if (c.purging || c.closed_at == common::TimePoint{} || c.closed_at > cutoff) continue;
    // A part whose answer is still being recorded keeps its check until the log has answered.
    if (std::any_of(c.parts.begin(), c.parts.end(),
                    [](const auto& p) { return p.second.state == PartState::kRecording; })) {
      continue;
    }
    c.purging = true;
    ++scheduled;
    // The log records the purge before the contents go: if it cannot, nothing is purged.
    audit::AuditEvent e = EventFor(c, audit::EventType::kRetentionPurge, system);
    e.detail = "check contents";
    std::vector<audit::AuditEvent> events;
    events.push_back(std::move(e));
    AppendAll(std::move(events), [this, id = id](Result<uint64_t> r) {
      const auto it = checks_.find(id);
      if (it == checks_.end()) return;
      it->second.purging = false;
      if (!r.ok()) {
        common::LogError("checks.purge_failed", {{"check", id}, {"error", r.status().ToString()}});
        return;
      }
      if (options_.store != nullptr) {
        if (Status s = options_.store->Purge(id, Millis(clock_.Now())); !s.ok()) {
          common::LogError("checks.purge_failed", {{"check", id}, {"error", s.ToString()}});
          return;
        }
      }
      checks_.erase(it);
      common::LogInfo("check.purged", {{"check", id}});
    });
  }
  return scheduled;
}

}  // namespace mash::broker
