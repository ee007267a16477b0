#include "mash/broker/checks.h"

#include "mash/common/log.h"
#include "mash/schemas/validator.h"

namespace mash::broker {
namespace {

int64_t Millis(common::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
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

std::string RaiseRequest::ConsentTag() const {
  if (consent_state == "given") return "given";
  return "override:" + override_ground;
}

CheckService::CheckService(Courier& courier, const common::Clock& clock,
                           common::RandomSource& random, std::chrono::seconds query_lifetime,
                           int max_in_flight)
    : courier_(courier),
      clock_(clock),
      random_(random),
      query_lifetime_(query_lifetime),
      max_in_flight_(std::max(1, max_in_flight)) {}

std::string_view CheckService::StateName(PartState s) {
  switch (s) {
    case PartState::kQueued:
      return "waiting_for_agent";
    case PartState::kSending:
    case PartState::kSent:
      return "sent";
    case PartState::kAnswered:
      return "answered";
    case PartState::kExpired:
      return "no_answer";
    case PartState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string CheckService::OverallState(const Check& check) {
  size_t answered = 0;
  size_t open = 0;
  for (const auto& [_, p] : check.parts) {
    if (p.state == PartState::kAnswered) ++answered;
    if (p.state == PartState::kQueued || p.state == PartState::kSending ||
        p.state == PartState::kSent) {
      ++open;
    }
  }
  if (answered == check.parts.size()) return "answered";
  if (open > 0) return "dispatched";
  return answered > 0 ? "partially_answered" : "expired";
}

Result<std::string> CheckService::Raise(const RaiseRequest& request, const std::string& raised_by) {
  for (const auto& a : request.agencies) {
    if (courier_.FindAgency(a) == nullptr) {
      return InvalidArgument("/agencies: '" + a + "' is not a registered agency");
    }
  }
  DropOldChecks();
  if (checks_.size() >= kMaxChecks) {
    common::LogWarn("check.capacity", {{"limit", kMaxChecks}});
    return ResourceExhausted("too many open checks");
  }
  Check check;
  check.id = random_.Hex(16);
  check.request = request;
  check.raised_by = raised_by;
  check.raised_at = clock_.Now();
  check.expires_at = check.raised_at + query_lifetime_;
  for (const auto& a : request.agencies) check.parts[a].agency = a;
  const std::string id = check.id;
  checks_.emplace(id, std::move(check));
  common::LogInfo("check.raised", {{"check", id},
                                   {"purpose", request.purpose},
                                   {"urgency", request.urgency},
                                   {"agencies", request.agencies.size()}});
  for (const auto& a : request.agencies) {
    waiting_[a].push_back(id);
    DispatchWaiting(a);
  }
  return id;
}

void CheckService::DispatchWaiting(const std::string& agency) {
  auto& queue = waiting_[agency];
  while (!queue.empty() && in_flight_[agency] < max_in_flight_ && hub_ && hub_->IsOnline(agency)) {
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

bool CheckService::Dispatch(Check& check, Part& part) {
  if (clock_.Now() >= check.expires_at) {
    part.state = PartState::kExpired;
    return true;
  }
  schemas::QueryBody body;
  // A query sent again after a lost connection keeps its id, so that an answer to either
  // copy matches; the envelope around it is always new.
  if (part.query_id.empty()) part.query_id = random_.Hex(16);
  body.query_id = part.query_id;
  body.level = check.request.level;
  body.subject = check.request.subject;
  body.household = check.request.household;
  body.categories = check.request.categories;
  crypto::EnvelopeHeader header;
  header.type = "query";
  header.check_ref = check.id;
  header.purpose = check.request.purpose;
  header.lawful_basis = check.request.lawful_basis;
  header.consent = check.request.ConsentTag();
  header.urgency = check.request.urgency;
  const auto remaining =
      std::chrono::duration_cast<std::chrono::seconds>(check.expires_at - clock_.Now());
  const auto lifetime = std::min<std::chrono::seconds>(
      std::max<std::chrono::seconds>(remaining, std::chrono::seconds(1)),
      std::chrono::seconds(crypto::kMaxLifetimeSeconds));
  auto sealed = courier_.Seal(part.agency, header, body.ToJson().dump(), lifetime);
  if (!sealed.ok()) {
    part.state = PartState::kFailed;
    common::LogError(
        "query.seal_failed",
        {{"check", check.id}, {"agency", part.agency}, {"error", sealed.status().ToString()}});
    return true;
  }
  const std::string frame =
      schemas::EnvelopeFrame(schemas::MessageType::kQuery, sealed->ToJson()).dump();
  const uint64_t session =
      hub_->Send(part.agency, frame, [this, id = check.id, agency = part.agency](bool written) {
        OnDelivered(id, agency, written);
      });
  if (session == 0) {
    common::LogWarn("query.send_failed", {{"check", check.id}, {"agency", part.agency}});
    return false;  // stays queued; retried when the agent reconnects
  }
  part.state = PartState::kSending;
  part.session = session;
  part.sent_at = clock_.Now();
  ++in_flight_[part.agency];
  common::LogInfo("query.sent", {{"check", check.id}, {"agency", part.agency}});
  return true;
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

void CheckService::DropOldChecks() {
  const auto now = clock_.Now();
  std::erase_if(checks_,
                [&](const auto& entry) { return entry.second.expires_at + kKeepFinished < now; });
}

Status CheckService::OnAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope) {
  auto opened = courier_.OpenFrom(agency, envelope);
  if (!opened.ok()) {
    common::LogWarn("answer.rejected", {{"agency", agency}, {"reason", opened.status().message()}});
    return opened.status();
  }
  const auto& header = opened->header;
  auto body = schemas::AnswerBody::Parse(common::AsString(opened->plaintext.span()));
  const auto check_it = checks_.find(header.check_ref);
  if (header.type != "answer" || !body.ok() || check_it == checks_.end()) {
    common::LogWarn("answer.unmatched", {{"agency", agency}, {"check", header.check_ref}});
    return InvalidArgument("answer does not match a check");
  }
  Check& check = check_it->second;
  const auto part_it = check.parts.find(agency);
  // The answer may overtake the socket's acknowledgement of the query (kSending).
  if (part_it == check.parts.end() ||
      (part_it->second.state != PartState::kSent && part_it->second.state != PartState::kSending) ||
      part_it->second.query_id != body->query_id) {
    common::LogWarn("answer.unmatched", {{"agency", agency}, {"check", header.check_ref}});
    return InvalidArgument("answer does not match a query");
  }
  Part& part = part_it->second;
  part.state = PartState::kAnswered;
  part.answered_at = clock_.Now();
  part.answer = std::move(*body);
  common::LogInfo("answer.received",
                  {{"check", check.id},
                   {"agency", agency},
                   {"held", part.answer->held},
                   {"elapsed_ms", Millis(part.answered_at) - Millis(part.sent_at)}});
  return Status::Ok();
}

void CheckService::OnAgentOnline(const std::string& agency) { DispatchWaiting(agency); }

void CheckService::OnAgentOffline(const std::string&) {
  // Nothing to do: OnSessionClosed has already put back what the connection carried.
}

void CheckService::Sweep() {
  const auto now = clock_.Now();
  for (auto& [_, check] : checks_) {
    if (now < check.expires_at) continue;
    for (auto& [agency, part] : check.parts) {
      if (part.state == PartState::kQueued || part.state == PartState::kSending ||
          part.state == PartState::kSent) {
        part.state = PartState::kExpired;
        common::LogWarn("query.expired", {{"check", check.id}, {"agency", agency}});
      }
    }
  }
  DropOldChecks();
  courier_.PurgeReplayCache();
}

Result<nlohmann::json> CheckService::Show(const std::string& id) const {
  const auto it = checks_.find(id);
  if (it == checks_.end()) return NotFound("no such check");
  const Check& check = it->second;
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& [agency, p] : check.parts) {
    const RegisteredAgency* reg = courier_.FindAgency(agency);
    nlohmann::json j = {
        {"agency", agency}, {"name", reg ? reg->name : agency}, {"state", StateName(p.state)}};
    if (p.sent_at != common::TimePoint{}) j["sent_at"] = common::FormatRfc3339(p.sent_at);
    if (p.answer) {
      j["answered_at"] = common::FormatRfc3339(p.answered_at);
      j["elapsed_ms"] = Millis(p.answered_at) - Millis(p.sent_at);
      j["answer"] = p.answer->ToJson();
      j["answer"].erase("query_id");
    }
    parts.push_back(std::move(j));
  }
  return nlohmann::json{{"id", check.id},
                        {"state", OverallState(check)},
                        {"raised_at", common::FormatRfc3339(check.raised_at)},
                        {"raised_by", check.raised_by},
                        {"purpose", check.request.purpose},
                        {"lawful_basis", check.request.lawful_basis},
                        {"consent", check.request.ConsentTag()},
                        {"urgency", check.request.urgency},
                        {"level", check.request.level},
                        {"subject", check.request.subject.ToJson()},
                        {"agencies", std::move(parts)}};
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
