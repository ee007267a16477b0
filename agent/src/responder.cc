#include "mash/agent/responder.h"

#include <algorithm>
#include <map>

#include "mash/audit/event.h"
#include "mash/audit/merkle.h"
#include "mash/audit/receipt.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"

namespace mash::agent {
namespace {

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

nlohmann::json DecisionSummary(const policy::Decision& d) {
  return {{"effect", policy::EffectName(d.effect)}, {"level", d.level}, {"rule", DecidingRule(d)}};
}

// The disclosure log's view of one category: what was decided, never the content.
nlohmann::json LoggedCategory(const schemas::CategoryAnswer& c) {
  nlohmann::json j = {{"category", c.category}, {"outcome", c.outcome}, {"rule", c.rule}};
  if (c.level >= 0) j["level"] = c.level;
  if (!c.redacted.empty()) j["redacted"] = c.redacted;
  if (!c.reason.empty()) j["reason"] = c.reason;
  return j;
}

// The answer-body schema's limit on matched_on.
constexpr size_t kMaxMatchedOn = 16;
// Answers one check may have in the disclosure log: the first and its follow-ups, one per review
// item (a few at most); more are not looked at when a query comes again.
constexpr int kMaxAnswersPerCheck = 64;

// A category the policy would release, of a possible match: it waits for the custodian.
schemas::CategoryAnswer PossibleMatchReview(const schemas::CategoryAnswer& released) {
  schemas::CategoryAnswer c;
  c.category = released.category;
  c.outcome = "review";
  c.rule = released.rule;
  c.reason = "possible match: waits for the agency's custodian";
  return c;
}

Result<std::vector<audit::Hash>> DecodeProof(const std::vector<std::string>& proof) {
  std::vector<audit::Hash> out;
  for (const auto& p : proof) {
    const auto bytes = common::Base64Decode(p);
    if (!bytes) return InvalidArgument("consistency proof is not base64");
    const auto h = audit::HashFromBytes(*bytes);
    if (!h) return InvalidArgument("consistency proof hash is not 32 bytes");
    out.push_back(*h);
  }
  return out;
}

}  // namespace

struct Responder::Built {
  schemas::AnswerBody body;
  nlohmann::json categories = nlohmann::json::array();  // for the disclosure log
  nlohmann::json shadow;                                // differences, or null
  std::vector<std::string> notify;                      // categories to tell the custodian of
  std::vector<ReviewCategory> pending;                  // categories that wait for the custodian
};

Result<std::unique_ptr<Responder>> Responder::Create(const AgentConfig& config,
                                                     const common::Clock& clock,
                                                     common::RandomSource& random) {
  MASH_ASSIGN_OR_RETURN(crypto::SigningKey sign, crypto::LoadSigningKey(config.sign_key));
  MASH_ASSIGN_OR_RETURN(crypto::EncryptionKey enc, crypto::LoadEncryptionKey(config.enc_key));
  std::unique_ptr<Responder> r(new Responder(std::move(sign), std::move(enc), clock, random));
  r->agency_id_ = config.agency_id;
  r->hub_id_ = config.hub_id;
  r->answer_lifetime_ = config.answer_lifetime;
  MASH_ASSIGN_OR_RETURN(r->broker_sign_,
                        crypto::LoadSigningPublicKey(config.broker_sign_public_key));
  MASH_ASSIGN_OR_RETURN(r->broker_enc_,
                        crypto::LoadEncryptionPublicKey(config.broker_enc_public_key));
  MASH_ASSIGN_OR_RETURN(r->policies_,
                        LoadDisclosurePolicies(config.policy, config.agency_type, clock.NowUnix()));
  auto log_key = crypto::LoadSigningPublicKey(config.audit_log_public_key);
  if (!log_key.ok()) return log_key.status().WithContext("audit.log_public_key");
  // The broker signs its checkpoints with its hub id as the origin.
  r->witness_ = std::make_unique<audit::Witness>(*log_key, config.hub_id);

  MASH_ASSIGN_OR_RETURN(r->db_, storage::Database::Open({config.database, config.database_key}));
  MASH_ASSIGN_OR_RETURN(r->replay_, storage::SqlReplayStore::Create(r->db_.get()));
  MASH_ASSIGN_OR_RETURN(r->sequence_, storage::SequenceCounter::Create(r->db_.get(), "agent-out"));
  MASH_ASSIGN_OR_RETURN(r->log_, DisclosureLog::Create(r->db_.get()));
  MASH_ASSIGN_OR_RETURN(r->reviews_, ReviewQueue::Create(r->db_.get()));
  MASH_ASSIGN_OR_RETURN(std::optional<std::string> held, r->log_->LoadCheckpoint());
  if (held) {
    if (Status s = r->witness_->Restore(*held); !s.ok()) {
      // Not an alarm (nothing was shown to be inconsistent), but nothing can be witnessed
      // against a checkpoint that no longer verifies: refuse to start.
      return FailedPrecondition(
          "the held audit checkpoint does not verify with audit.log_public_key (" + s.message() +
          "); if the hub's audit key was changed, run mash-agent audit-reset");
    }
    r->persisted_checkpoint_ = *held;
  }
  MASH_ASSIGN_OR_RETURN(std::optional<AlarmRecord> alarm, r->log_->ActiveAlarm());
  if (alarm) {
    r->alarm_ = alarm->reason;
    common::LogError(
        "audit.alarm",
        {{"reason", alarm->reason}, {"raised_at", alarm->raised_at}, {"restored", true}});
  }
  MASH_ASSIGN_OR_RETURN(r->records_, OpenRecordSource(config));
  return r;
}

schemas::Hello Responder::MakeHello() const {
  schemas::Hello h;
  h.agency = agency_id_;
  h.sign_key = sign_.Public().Fingerprint();
  h.enc_key = enc_.Public().Fingerprint();
  h.software = "mash-agent/0.1.0";
  if (const auto held = witness_->held()) {
    h.checkpoint = schemas::Checkpoint{static_cast<int64_t>(held->checkpoint.size),
                                       common::HexEncode(held->checkpoint.root)};
  }
  return h;
}

bool Responder::WelcomeMatches(const schemas::Welcome& welcome) const {
  return welcome.hub == hub_id_ && welcome.sign_key == broker_sign_.Fingerprint() &&
         welcome.enc_key == broker_enc_.Fingerprint();
}

bool Responder::alarmed() const { return !alarm_.empty() || witness_->alarmed(); }

Status Responder::RaiseAlarm(const std::string& reason, const std::string& presented) {
  if (alarm_.empty()) alarm_ = reason;
  AlarmRecord a;
  a.raised_at = clock_.NowUnix();
  a.reason = reason;
  if (const auto held = witness_->held()) a.held_checkpoint = held->text;
  a.presented_checkpoint = presented;
  common::LogError("audit.alarm", {{"reason", reason}});
  if (Status s = log_->RaiseAlarm(a); !s.ok()) {
    // Still alarmed for the life of this process; the operator must see that it did not stick.
    common::LogError("audit.alarm_not_persisted", {{"error", s.message()}});
  }
  return DataLoss("audit log inconsistent: " + reason);
}

Status Responder::PersistHeld() {
  const auto held = witness_->held();
  if (!held || held->text == persisted_checkpoint_) return Status::Ok();
  MASH_RETURN_IF_ERROR(log_->SaveCheckpoint(held->text));
  persisted_checkpoint_ = held->text;
  return Status::Ok();
}

Status Responder::OnWelcome(const schemas::Welcome& welcome) {
  if (alarmed()) {
    common::LogError("audit.alarm", {{"reason", alarm_reason()}, {"state", "still raised"}});
    return FailedPrecondition("audit alarm raised");
  }
  const auto refuse = [this](const Status& s) {
    welcome_refused_ = true;
    common::LogError("audit.welcome_refused", {{"reason", s.message()}});
    return s;
  };
  const auto held = witness_->held();
  if (!welcome.audit) {
    if (held) return refuse(FailedPrecondition("welcome shows no audit checkpoint"));
    welcome_refused_ = false;  // nothing held yet: a hub that shows no log can still be used
    return Status::Ok();
  }
  auto proof = DecodeProof(welcome.audit->consistency_proof);
  if (!proof.ok()) return refuse(proof.status());
  if (held && welcome.audit->consistency_from != 0 &&
      static_cast<uint64_t>(welcome.audit->consistency_from) != held->checkpoint.size) {
    // A proof from another size would fail verification and look like a fork.
    return refuse(InvalidArgument("consistency proof does not start at the held checkpoint"));
  }
  const Status observed = witness_->Observe(welcome.audit->checkpoint, *proof);
  if (observed.code() == StatusCode::kDataLoss) {
    welcome_refused_ = true;
    return RaiseAlarm(witness_->alarm_reason(), welcome.audit->checkpoint);
  }
  if (!observed.ok()) return refuse(observed);
  if (Status s = PersistHeld(); !s.ok()) return refuse(Unavailable("held checkpoint not stored"));
  welcome_refused_ = false;
  common::LogInfo("audit.checkpoint_held", {{"size", witness_->held_size()}});
  return Status::Ok();
}

Result<Responder::Found> Responder::FindRecords(const OpenedQuery& query) const {
  const QueryContext context{query.header.check_ref, query.header.purpose};
  Found found;
  MASH_ASSIGN_OR_RETURN(found.matches, records_->Find(query.body, context));
  if (!query.body.household.empty()) {
    MASH_ASSIGN_OR_RETURN(found.household, records_->FindHousehold(query.body, context));
  }
  return found;
}

Responder::Built Responder::BuildAnswer(const OpenedQuery& opened, const Found& found) const {
  const schemas::QueryBody& query = opened.body;
  const crypto::EnvelopeHeader& header = opened.header;
  const ConsentTag& consent = opened.consent;
  const std::vector<SourceMatch>& matches = found.matches;
  Built b;
  schemas::AnswerBody& a = b.body;
  a.query_id = query.query_id;
  a.policy_version = policies_->enforced().version;
  a.source = records_->source();
  // Household members: held and the band only, at every level; no category of theirs is
  // disclosed (the policy decides categories of the subject).
  if (found.household) {
    for (const auto& h : *found.household) {
      if (h.index >= query.household.size()) continue;
      schemas::HouseholdAnswer m;
      m.index = static_cast<int>(h.index);
      m.match = h.match == "confirmed" || h.match == "possible" ? h.match : "none";
      m.held = m.match != "none";
      for (const auto& kind : h.matched_on) {
        if (m.held && m.matched_on.size() < kMaxMatchedOn) m.matched_on.push_back(kind);
      }
      a.household.push_back(std::move(m));
    }
  }
  if (matches.empty()) return b;
  a.held = true;
  // One confirmed record is a confirmed match. A possible one, or several records for one
  // subject (ambiguous), is a possible match: nothing of it is released automatically.
  const bool possible = matches.size() != 1 || matches.front().match != "confirmed";
  a.match = possible ? "possible" : "confirmed";
  std::map<std::string, const CategoryRecords*> held;
  for (const auto& m : matches) {
    for (const auto& kind : m.matched_on) {
      if (!Has(a.matched_on, kind) && a.matched_on.size() < kMaxMatchedOn) {
        a.matched_on.push_back(kind);
      }
    }
    for (const auto& [name, cat] : m.record.categories) held.emplace(name, &cat);
  }
  if (query.level == 0) return b;  // discovery: held / not held, nothing more
  const int64_t now = clock_.NowUnix();
  for (const auto& [name, cat] : held) {
    if (!query.categories.empty() && std::find(query.categories.begin(), query.categories.end(),
                                               name) == query.categories.end()) {
      continue;
    }
    const auto outcome =
        policies_->EvaluateBoth(MakeDisclosureRequest(header, consent, name, query.level), now);
    schemas::CategoryAnswer c = Disclose(policies_->enforced(), outcome.enforced, name, *cat);
    if (possible && (c.outcome == "shared" || c.outcome == "redacted")) {
      c = PossibleMatchReview(c);
    } else if (outcome.enforced.effect == policy::Effect::kPermit &&
               Has(outcome.enforced.obligations, "notify_custodian")) {
      b.notify.push_back(name);
    }
    if (outcome.differs && outcome.shadow) {
      if (b.shadow.is_null()) b.shadow = nlohmann::json::array();
      b.shadow.push_back({{"category", name},
                          {"enforced", DecisionSummary(outcome.enforced)},
                          {"shadow", DecisionSummary(*outcome.shadow)}});
    }
    if (c.outcome == "review") {
      b.pending.push_back(
          PendingReview(policies_->enforced(), outcome.enforced, name, *cat, possible));
    }
    b.categories.push_back(LoggedCategory(c));
    a.categories.push_back(std::move(c));
  }
  return b;
}

void Responder::Count(std::string_view outcome) {
  if (metrics_ != nullptr) metrics_->Query(outcome);
}

Result<std::string> Responder::Answer(const crypto::SealedEnvelope& query) {
  MASH_ASSIGN_OR_RETURN(OpenedQuery opened, OpenQuery(query));
  return FinishAnswer(opened, FindRecords(opened));
}

Result<Responder::OpenedQuery> Responder::OpenQuery(const crypto::SealedEnvelope& query) {
  if (alarmed()) {
    common::LogError("query.refused", {{"reason", "audit alarm raised"}});
    Count("refused");
    return Unavailable("audit alarm raised");
  }
  if (welcome_refused_) {
    common::LogWarn("query.refused", {{"reason", "hub audit checkpoint not accepted"}});
    Count("refused");
    return Unavailable("hub audit checkpoint not accepted");
  }
  crypto::OpenExpectations expect{hub_id_, &broker_sign_, agency_id_, &enc_, clock_.NowUnix()};
  auto opened = crypto::Open(query, expect, *replay_);
  if (!opened.ok()) {
    common::LogWarn("query.rejected", {{"reason", opened.status().message()}});
    Count("rejected");
    return opened.status();
  }
  if (opened->header.type != "query") {
    common::LogWarn("query.rejected", {{"reason", "not a query"}});
    Count("rejected");
    return InvalidArgument("not a query");
  }
  auto body = schemas::QueryBody::Parse(common::AsString(opened->plaintext.span()));
  if (!body.ok()) {
    common::LogWarn("query.rejected", {{"reason", body.status().message()}});
    Count("rejected");
    return body.status();
  }
  auto consent = ParseConsentTag(opened->header.consent);
  if (!consent.ok()) {
    common::LogWarn("query.rejected", {{"reason", consent.status().message()}});
    Count("rejected");
    return consent.status();
  }
  return OpenedQuery{opened->header, std::move(body).value(), *consent};
}

Result<crypto::SealedEnvelope> Responder::SealToHub(const std::string& type,
                                                    const crypto::EnvelopeHeader& why,
                                                    const std::string& plaintext,
                                                    crypto::EnvelopeHeader* sent) {
  crypto::EnvelopeHeader h;
  h.type = type;
  h.id = random_.Hex(16);
  h.sender = agency_id_;
  h.sender_key = sign_.Public().Fingerprint();
  h.recipient = hub_id_;
  h.recipient_key = broker_enc_.Fingerprint();
  h.issued_at = clock_.NowUnix();
  h.expires_at = h.issued_at + answer_lifetime_.count();
  MASH_ASSIGN_OR_RETURN(h.sequence, sequence_->Next());
  h.check_ref = why.check_ref;
  h.purpose = why.purpose;
  h.lawful_basis = why.lawful_basis;
  h.consent = why.consent;
  h.urgency = why.urgency;
  h.policy_hash = policies_->enforced().version;
  if (sent != nullptr) *sent = h;
  return crypto::Seal(h, common::AsBytes(plaintext), sign_, broker_enc_, random_);
}

Result<std::string> Responder::FinishAnswer(const OpenedQuery& opened, Result<Found> found) {
  if (!found.ok()) {
    // Fail closed: no partial answer, the broker gets the generic `unavailable`.
    common::LogError("query.records_unavailable",
                     {{"check", opened.header.check_ref}, {"error", found.status().message()}});
    Count("unavailable");
    return Unavailable("record source unavailable");
  }
  // The lookup ran off the io thread: the alarm may have been raised meanwhile.
  if (alarmed()) {
    common::LogError("query.refused",
                     {{"check", opened.header.check_ref}, {"reason", "audit alarm raised"}});
    Count("refused");
    return Unavailable("audit alarm raised");
  }
  if (welcome_refused_) {
    common::LogWarn("query.refused", {{"check", opened.header.check_ref},
                                      {"reason", "hub audit checkpoint not accepted"}});
    Count("refused");
    return Unavailable("hub audit checkpoint not accepted");
  }
  // The hub sends a query again (a new envelope, the same check) when it has no answer to it:
  // an answer recorded here that never arrived (the agent stopped, the connection dropped) is
  // replaced by the new one, so that the disclosure log holds one disclosure per query. Once
  // the hub acknowledged an answer of this check with a receipt, nothing more leaves for it.
  auto earlier = log_->AnswersSince(0, opened.header.check_ref, kMaxAnswersPerCheck);
  if (!earlier.ok()) {
    common::LogError("disclosure_log.read_failed",
                     {{"check", opened.header.check_ref}, {"error", earlier.status().message()}});
    return Unavailable("disclosure log unavailable");
  }
  std::optional<std::string> replaces;
  for (const auto& e : *earlier) {
    auto receipt = log_->FindReceipt(e.answer_id);
    if (!receipt.ok()) return Unavailable("disclosure log unavailable");
    if (*receipt) {
      common::LogWarn("query.already_answered", {{"check", opened.header.check_ref}});
      return FailedPrecondition("query already answered");
    }
    replaces = e.answer_id;
  }
  const Built built = BuildAnswer(opened, *found);
  const std::string& version = policies_->enforced().version;
  outgoing_.clear();
  if (!built.pending.empty()) {
    // Sealed before the answer, so that its sequence number comes first (responder_review.cc).
    if (Status s = QueueReview(opened.body, opened.header, built.body, built.pending); !s.ok()) {
      common::LogError("review.queue_failed",
                       {{"check", opened.header.check_ref}, {"error", s.message()}});
      Count("unavailable");
      return Unavailable("review queue unavailable");
    }
  }

  const std::string plaintext = built.body.ToJson().dump();
  crypto::EnvelopeHeader h;
  auto sealed_or = SealToHub("answer", opened.header, plaintext, &h);
  if (!sealed_or.ok()) {
    common::LogError("query.seal_failed",
                     {{"check", opened.header.check_ref}, {"error", sealed_or.status().message()}});
    Count("failed");
    return sealed_or.status();
  }
  const crypto::SealedEnvelope& sealed = *sealed_or;
  std::string frame = schemas::EnvelopeFrame(schemas::MessageType::kAnswer, sealed.ToJson()).dump();
  if (frame.size() > schemas::kMaxFrameBytes) {
    // The broker would close the connection for it; say so here instead.
    common::LogError("query.answer_too_large", {{"check", h.check_ref}, {"bytes", frame.size()}});
    Count("failed");
    return ResourceExhausted("answer larger than a frame");
  }

  // Recorded before it leaves: an answer that is not in the disclosure log is not sent.
  DisclosureRecord record;
  record.time = h.issued_at;
  record.check_ref = h.check_ref;
  record.answer_id = h.id;
  record.answer_hash = common::HexEncode(sealed.Hash());
  record.purpose = h.purpose;
  record.lawful_basis = h.lawful_basis;
  record.consent = h.consent;
  record.policy_version = version;
  if (const policy::Policy* shadow = policies_->shadow()) record.shadow_version = shadow->version;
  record.level = opened.body.level;
  record.held = built.body.held;
  record.categories = built.categories;
  record.shadow = built.shadow;
  if (Status s = replaces ? log_->ReplaceAnswer(*replaces, record) : log_->RecordAnswer(record);
      !s.ok()) {
    common::LogError("disclosure_log.write_failed",
                     {{"check", h.check_ref}, {"error", s.message()}});
    disclosure_log_failing_ = true;
    Count("unavailable");
    return Unavailable("disclosure log unavailable");
  }
  disclosure_log_failing_ = false;
  if (metrics_ != nullptr) metrics_->DisclosureLogAppended();
  Count(!built.pending.empty()       ? "held_for_review"
        : built.body.match == "none" ? "no_match"
                                     : "answered");
  if (replaces) common::LogWarn("answer.resent", {{"check", h.check_ref}});
  for (const auto& category : built.notify) {
    common::LogInfo("custodian.notify", {{"check", h.check_ref}, {"category", category}});
  }
  if (!built.shadow.is_null()) {
    for (const auto& d : built.shadow) {
      common::LogWarn("policy.shadow_differs", {{"check", h.check_ref},
                                                {"category", d["category"]},
                                                {"enforced", d["enforced"]},
                                                {"shadow", d["shadow"]},
                                                {"enforced_version", version},
                                                {"shadow_version", record.shadow_version}});
    }
  }
  common::LogInfo("query.answered", {{"check", h.check_ref},
                                     {"held", built.body.held},
                                     {"categories", built.body.categories.size()},
                                     {"level", opened.body.level},
                                     {"policy_version", version}});
  return frame;
}

Status Responder::OnReceipt(const crypto::SealedEnvelope& envelope) {
  const auto reject = [](const Status& s) {
    common::LogWarn("receipt.rejected", {{"reason", s.message()}});
    return s;
  };
  if (alarmed()) return reject(FailedPrecondition("audit alarm raised"));
  crypto::OpenExpectations expect{hub_id_, &broker_sign_, agency_id_, &enc_, clock_.NowUnix()};
  // The replay record is queued and written with the receipt (one sync for both); a receipt
  // refused on the way still has its record written when this returns.
  struct RecordQueuedOnReturn {
    storage::SqlReplayStore& replay;
    ~RecordQueuedOnReturn() {
      if (replay.queued() == 0) return;
      if (Status s = replay.CommitQueued(); !s.ok()) {
        common::LogError("receipt.replay_not_stored", {{"error", s.message()}});
      }
    }
  } record_queued{*replay_};
  storage::QueuedReplayGuard queued(*replay_);
  auto opened = crypto::Open(envelope, expect, queued);
  if (!opened.ok()) return reject(opened.status());
  if (opened->header.type != "receipt") return reject(InvalidArgument("not a receipt"));
  auto body = schemas::ReceiptBody::Parse(common::AsString(opened->plaintext.span()));
  if (!body.ok()) return reject(body.status());

  auto receipt = audit::Receipt::FromJson(body->receipt);
  if (!receipt.ok()) return reject(receipt.status());

  // The checkpoint first: a validly signed checkpoint that is consistent with the held one is
  // witnessed even if the rest of the receipt is refused (so that agent and broker agree on the
  // size the next consistency proof starts from), and one that is inconsistent is an alarm
  // whatever answer it claims to be about.
  const Status verified = witness_->VerifyReceipt(*receipt);
  if (verified.code() == StatusCode::kDataLoss) {
    return RaiseAlarm(witness_->alarm_reason(), receipt->checkpoint);
  }
  // A receipt refused from here on still leaves its checkpoint witnessed (an accepted one
  // stores it with the receipt, in one transaction).
  const auto refuse = [&](const Status& s) {
    if (Status p = PersistHeld(); !p.ok()) {
      common::LogError("audit.checkpoint_not_stored", {{"error", p.message()}});
    }
    return reject(s);
  };
  if (!verified.ok()) {
    // The broker signed a receipt whose checkpoint this witness cannot connect to what it holds
    // (no proof, or one from another size). An honest broker that lost track of the held size
    // proves consistency again on the next connection; a broker that rewrote its log cannot. So
    // stop answering until a welcome has proven it, and let the channel reconnect.
    welcome_refused_ = true;
    common::LogError("audit.resync_needed", {{"reason", verified.message()}});
    return refuse(verified);
  }

  // The answer it speaks of must be one this agent sent, byte for byte.
  auto sent = log_->FindAnswer(body->answer_id);
  if (!sent.ok()) return refuse(sent.status());
  if (sent->answer_hash != body->answer_hash) {
    return refuse(InvalidArgument("receipt names another answer hash"));
  }
  if (sent->check_ref != opened->header.check_ref) {
    return refuse(InvalidArgument("receipt is for another check"));
  }
  auto existing = log_->FindReceipt(body->answer_id);
  if (!existing.ok()) return refuse(existing.status());
  if (*existing) return refuse(AlreadyExists("a receipt for this answer is held"));

  // The event logged must say that this agency's answer, with this hash, was received, and be
  // the leaf the receipt proves included.
  const auto event_bytes = common::Base64Decode(body->event);
  if (!event_bytes) return refuse(InvalidArgument("receipt event is not base64"));
  const audit::Hash leaf = audit::HashLeaf(*event_bytes);
  if (receipt->leaf_hash != leaf) return refuse(InvalidArgument("receipt leaf is not the event"));
  auto event = audit::DecodeEvent(*event_bytes);
  if (!event.ok()) return refuse(InvalidArgument("receipt event does not decode"));
  if (event->type != audit::EventType::kAnswerReceived) {
    return refuse(InvalidArgument("receipt event is not answer_received"));
  }
  if (event->agency != agency_id_) {
    return refuse(InvalidArgument("receipt event is for another agency"));
  }
  if (event->check_ref != sent->check_ref) {
    return refuse(InvalidArgument("receipt event is for another check"));
  }
  const bool names_answer = std::any_of(
      event->envelope_hashes.begin(), event->envelope_hashes.end(),
      [&](const common::Bytes& h) { return common::HexEncode(h) == sent->answer_hash; });
  if (!names_answer) return refuse(InvalidArgument("receipt event does not name the answer"));

  ReceiptRecord stored;
  stored.answer_id = body->answer_id;
  stored.time = clock_.NowUnix();
  stored.seq = receipt->seq;
  stored.leaf_hash = common::HexEncode(leaf);
  stored.checkpoint = receipt->checkpoint;
  stored.receipt = body->receipt.dump();
  const auto held = witness_->held();
  const std::string held_text = held ? held->text : receipt->checkpoint;
  if (Status s = log_->RecordReceipt(stored, held_text, [&] { return replay_->WriteQueued(); });
      !s.ok()) {
    return refuse(s);
  }
  persisted_checkpoint_ = held_text;
  NoteFollowUpReceipt(body->answer_id);
  common::LogInfo("receipt.accepted", {{"check", opened->header.check_ref},
                                       {"seq", receipt->seq},
                                       {"size", witness_->held_size()}});
  return Status::Ok();
}

}  // namespace mash::agent
