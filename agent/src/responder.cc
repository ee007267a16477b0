#include "mash/agent/responder.h"

#include <algorithm>

#include "mash/common/log.h"

namespace mash::agent {
namespace {

// Until agency disclosure policies are loaded (policy issue), answers say so plainly.
constexpr const char* kNoPolicyVersion = "unversioned";

}  // namespace

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
  MASH_ASSIGN_OR_RETURN(r->db_, storage::Database::Open({config.database, config.database_key}));
  MASH_ASSIGN_OR_RETURN(r->replay_, storage::SqlReplayStore::Create(r->db_.get()));
  MASH_ASSIGN_OR_RETURN(r->sequence_, storage::SequenceCounter::Create(r->db_.get(), "agent-out"));
  MASH_ASSIGN_OR_RETURN(FixtureRecords records, FixtureRecords::Load(config.records_fixture));
  r->records_ = std::make_unique<FixtureRecords>(std::move(records));
  return r;
}

schemas::Hello Responder::MakeHello() const {
  schemas::Hello h;
  h.agency = agency_id_;
  h.sign_key = sign_.Public().Fingerprint();
  h.enc_key = enc_.Public().Fingerprint();
  h.software = "mash-agent/0.1.0";
  return h;
}

bool Responder::WelcomeMatches(const schemas::Welcome& welcome) const {
  return welcome.hub == hub_id_ && welcome.sign_key == broker_sign_.Fingerprint() &&
         welcome.enc_key == broker_enc_.Fingerprint();
}

schemas::AnswerBody Responder::BuildAnswer(const schemas::QueryBody& query) const {
  schemas::AnswerBody a;
  a.query_id = query.query_id;
  a.policy_version = kNoPolicyVersion;
  a.source = records_->source();
  const Record* rec = records_->Find(query.subject.identifiers, &a.matched_on);
  if (rec == nullptr) {
    a.matched_on.clear();
    return a;
  }
  a.held = true;
  a.match = "confirmed";
  if (query.level == 0) return a;  // discovery: held / not held, nothing more
  for (const auto& [name, cat] : rec->categories) {
    if (!query.categories.empty() && std::find(query.categories.begin(), query.categories.end(),
                                               name) == query.categories.end()) {
      continue;
    }
    schemas::CategoryAnswer c;
    c.category = name;
    c.outcome = "shared";
    c.summary = cat.summary;
    if (query.level >= 2) c.latest = cat.latest;
    if (query.level >= 3) c.records = cat.records;
    a.categories.push_back(std::move(c));
  }
  return a;
}

Result<std::string> Responder::Answer(const crypto::SealedEnvelope& query) {
  crypto::OpenExpectations expect{hub_id_, &broker_sign_, agency_id_, &enc_, clock_.NowUnix()};
  auto opened = crypto::Open(query, expect, *replay_);
  if (!opened.ok()) {
    common::LogWarn("query.rejected", {{"reason", opened.status().message()}});
    return opened.status();
  }
  if (opened->header.type != "query") {
    common::LogWarn("query.rejected", {{"reason", "not a query"}});
    return InvalidArgument("not a query");
  }
  auto body = schemas::QueryBody::Parse(common::AsString(opened->plaintext.span()));
  if (!body.ok()) {
    common::LogWarn("query.rejected", {{"reason", body.status().message()}});
    return body.status();
  }
  const schemas::AnswerBody answer = BuildAnswer(*body);

  crypto::EnvelopeHeader h;
  h.type = "answer";
  h.id = random_.Hex(16);
  h.sender = agency_id_;
  h.sender_key = sign_.Public().Fingerprint();
  h.recipient = hub_id_;
  h.recipient_key = broker_enc_.Fingerprint();
  h.issued_at = clock_.NowUnix();
  h.expires_at = h.issued_at + answer_lifetime_.count();
  MASH_ASSIGN_OR_RETURN(h.sequence, sequence_->Next());
  h.check_ref = opened->header.check_ref;
  h.purpose = opened->header.purpose;
  h.lawful_basis = opened->header.lawful_basis;
  h.consent = opened->header.consent;
  h.urgency = opened->header.urgency;
  h.policy_hash = "";
  const std::string plaintext = answer.ToJson().dump();
  MASH_ASSIGN_OR_RETURN(crypto::SealedEnvelope sealed,
                        crypto::Seal(h, common::AsBytes(plaintext), sign_, broker_enc_, random_));
  std::string frame = schemas::EnvelopeFrame(schemas::MessageType::kAnswer, sealed.ToJson()).dump();
  if (frame.size() > schemas::kMaxFrameBytes) {
    // The broker would close the connection for it; say so here instead.
    common::LogError("query.answer_too_large", {{"check", h.check_ref}, {"bytes", frame.size()}});
    return ResourceExhausted("answer larger than a frame");
  }
  common::LogInfo("query.answered", {{"check", h.check_ref},
                                     {"held", answer.held},
                                     {"categories", answer.categories.size()},
                                     {"level", body->level}});
  return frame;
}

}  // namespace mash::agent
