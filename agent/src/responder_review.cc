// The Responder's side of the custodian review queue (review_queue.h): announcing categories
// that wait for the custodian, and answering them once decided. Kept apart from responder.cc.
#include <algorithm>

#include "mash/agent/responder.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"

namespace mash::agent {

std::vector<std::string> Responder::TakeOutgoing() {
  std::vector<std::string> out;
  out.swap(outgoing_);
  return out;
}

Status Responder::QueueReview(const schemas::QueryBody& query, const crypto::EnvelopeHeader& header,
                              const schemas::AnswerBody& answer,
                              const std::vector<ReviewCategory>& pending) {
  MASH_ASSIGN_OR_RETURN(std::optional<ReviewItem> existing, reviews_->FindByQuery(query.query_id));
  ReviewItem item;
  if (existing) {
    // The broker asked again (a lost connection): the item and any decisions made stay.
    item = std::move(*existing);
  } else {
    item.created_at = clock_.NowUnix();
    item.check_ref = header.check_ref;
    item.query_id = query.query_id;
    item.purpose = header.purpose;
    item.lawful_basis = header.lawful_basis;
    item.consent = header.consent;
    item.urgency = header.urgency;
    item.level = query.level;
    item.match = answer.match;
    item.matched_on = answer.matched_on;
    item.policy_version = answer.policy_version;
    item.source = answer.source;
    item.subject = query.subject.ToJson();
    item.categories = pending;
    MASH_ASSIGN_OR_RETURN(item.id, reviews_->Add(item));
  }
  schemas::ReviewPendingBody body;
  body.query_id = query.query_id;
  body.policy_version = policies_->enforced().version;
  for (const auto& c : item.categories) {
    if (c.decision.empty()) body.categories.push_back({c.category, c.why, c.rule});
  }
  if (body.categories.empty()) return Status::Ok();  // decided already: the follow-up says it
  MASH_ASSIGN_OR_RETURN(crypto::SealedEnvelope sealed,
                        SealToHub("review_pending", header, body.ToJson().dump()));
  outgoing_.push_back(
      schemas::EnvelopeFrame(schemas::MessageType::kReviewPending, sealed.ToJson()).dump());
  common::LogInfo("review.queued", {{"check", header.check_ref},
                                    {"item", item.id},
                                    {"categories", body.categories.size()},
                                    {"again", existing.has_value()}});
  return Status::Ok();
}

Result<Responder::ChaseOutcome> Responder::OnChase(const crypto::SealedEnvelope& envelope) {
  const auto reject = [](const Status& s) {
    common::LogWarn("chase.rejected", {{"reason", s.message()}});
    return s;
  };
  // The hub's log is in doubt: nothing it says is acted on until an operator has looked.
  if (alarmed()) return reject(FailedPrecondition("audit alarm raised"));
  crypto::OpenExpectations expect{hub_id_, &broker_sign_, agency_id_, &enc_, clock_.NowUnix()};
  auto opened = crypto::Open(envelope, expect, *replay_);
  if (!opened.ok()) return reject(opened.status());
  if (opened->header.type != "chase") return reject(InvalidArgument("not a chase"));
  auto body = schemas::ChaseBody::Parse(common::AsString(opened->plaintext.span()));
  if (!body.ok()) return reject(body.status());
  const std::string& check = opened->header.check_ref;

  auto item = reviews_->FindByQuery(body->query_id);
  if (!item.ok()) return reject(item.status());
  if (*item) {
    if ((*item)->check_ref != check) {
      return reject(InvalidArgument("chase names a query of another check"));
    }
    if ((*item)->status == "pending") {
      if (Status s = reviews_->MarkChased((*item)->id, clock_.NowUnix(), body->deadline); !s.ok()) {
        return reject(s);
      }
      // Ids, vocabulary and the deadline: the item's subject never reaches a log line.
      common::LogWarn("review.chased", {{"check", check},
                                        {"item", (*item)->id},
                                        {"deadline", body->deadline},
                                        {"urgency", body->urgency},
                                        {"hub_state", body->state}});
      return ChaseOutcome::kChased;
    }
    // Decided: the follow-up is on its way (or the hub has it already).
    common::LogInfo("chase.already_answered",
                    {{"check", check}, {"item", (*item)->id}, {"hub_state", body->state}});
    return ChaseOutcome::kAlreadyAnswered;
  }
  auto answers = log_->AnswersSince(0, check, 1);
  if (!answers.ok()) return reject(answers.status());
  if (!answers->empty()) {
    common::LogInfo("chase.already_answered", {{"check", check}, {"hub_state", body->state}});
    return ChaseOutcome::kAlreadyAnswered;
  }
  // Never arrived, lost, or still being looked up: the broker sends unanswered queries again
  // when the agent reconnects, so there is nothing to answer here.
  common::LogWarn("chase.unknown_query",
                  {{"check", check}, {"deadline", body->deadline}, {"hub_state", body->state}});
  return ChaseOutcome::kUnknownQuery;
}

Result<std::string> Responder::FollowUpFrame(const ReviewItem& item) {
  const schemas::AnswerBody body = FollowUpBody(item);
  crypto::EnvelopeHeader why;
  why.check_ref = item.check_ref;
  why.purpose = item.purpose;
  why.lawful_basis = item.lawful_basis;
  why.consent = item.consent;
  why.urgency = item.urgency;
  const std::string plaintext = body.ToJson().dump();
  crypto::EnvelopeHeader header;
  MASH_ASSIGN_OR_RETURN(crypto::SealedEnvelope sealed,
                        SealToHub("answer", why, plaintext, &header));
  std::string frame = schemas::EnvelopeFrame(schemas::MessageType::kAnswer, sealed.ToJson()).dump();
  if (frame.size() > schemas::kMaxFrameBytes) {
    return ResourceExhausted("follow-up answer larger than a frame");
  }
  // Recorded before it leaves, like every answer.
  DisclosureRecord record;
  record.time = header.issued_at;
  record.check_ref = item.check_ref;
  record.answer_id = header.id;
  record.answer_hash = common::HexEncode(sealed.Hash());
  record.purpose = item.purpose;
  record.lawful_basis = item.lawful_basis;
  record.consent = item.consent;
  record.policy_version = item.policy_version;
  if (const policy::Policy* shadow = policies_->shadow()) record.shadow_version = shadow->version;
  record.level = item.level;
  record.held = true;
  for (const auto& c : body.categories) {
    nlohmann::json j = {
        {"category", c.category}, {"outcome", c.outcome}, {"rule", c.rule}, {"custodian", true}};
    if (c.level >= 0) j["level"] = c.level;
    if (!c.redacted.empty()) j["redacted"] = c.redacted;
    if (!c.reason.empty()) j["reason"] = c.reason;
    record.categories.push_back(std::move(j));
  }
  if (Status s = log_->RecordAnswer(record); !s.ok()) {
    disclosure_log_failing_ = true;
    return s;
  }
  disclosure_log_failing_ = false;
  if (metrics_ != nullptr) metrics_->DisclosureLogAppended();
  MASH_RETURN_IF_ERROR(reviews_->MarkSent(item.id, header.id, record.time));
  return frame;
}

std::vector<std::string> Responder::PollReviews() {
  std::vector<std::string> frames;
  if (alarmed() || welcome_refused_) return frames;
  const bool resend = resend_reviews_;
  resend_reviews_ = false;
  auto ready = reviews_->ReadyToSend(resend);
  if (!ready.ok()) {
    common::LogError("review.poll_failed", {{"error", ready.status().message()}});
    return frames;
  }
  for (const auto& item : *ready) {
    auto frame = FollowUpFrame(item);
    if (!frame.ok()) {
      common::LogError(
          "review.answer_failed",
          {{"check", item.check_ref}, {"item", item.id}, {"error", frame.status().message()}});
      continue;
    }
    common::LogInfo("review.answered", {{"check", item.check_ref},
                                        {"item", item.id},
                                        {"categories", item.categories.size()},
                                        {"again", item.status == "sent"}});
    frames.push_back(std::move(*frame));
  }
  return frames;
}

void Responder::NoteFollowUpReceipt(const std::string& answer_id) {
  auto matched = reviews_->OnReceipt(answer_id);
  if (!matched.ok()) {
    common::LogError("review.receipt_not_stored", {{"error", matched.status().message()}});
  } else if (*matched) {
    common::LogInfo("review.receipted", {});
  }
}

}  // namespace mash::agent
