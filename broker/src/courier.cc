#include "mash/broker/courier.h"

#include "mash/common/log.h"

namespace mash::broker {

Result<std::unique_ptr<Courier>> Courier::Create(const BrokerConfig& config,
                                                 const common::Clock& clock,
                                                 common::RandomSource& random) {
  MASH_ASSIGN_OR_RETURN(crypto::SigningKey sign, crypto::LoadSigningKey(config.sign_key));
  MASH_ASSIGN_OR_RETURN(crypto::EncryptionKey enc, crypto::LoadEncryptionKey(config.enc_key));
  std::unique_ptr<Courier> c(new Courier(std::move(sign), std::move(enc), clock, random));
  c->hub_id_ = config.hub_id;
  for (const auto& a : config.agencies) {
    RegisteredAgency reg{a.id, a.name, a.type, {}, {}};
    MASH_ASSIGN_OR_RETURN(reg.sign, crypto::LoadSigningPublicKey(a.sign_public_key));
    MASH_ASSIGN_OR_RETURN(reg.enc, crypto::LoadEncryptionPublicKey(a.enc_public_key));
    c->agencies_.emplace(a.id, std::move(reg));
  }
  MASH_ASSIGN_OR_RETURN(c->db_, storage::Database::Open({config.database, config.database_key}));
  MASH_ASSIGN_OR_RETURN(c->replay_, storage::SqlReplayStore::Create(c->db_.get()));
  MASH_ASSIGN_OR_RETURN(c->sequence_, storage::SequenceCounter::Create(c->db_.get(), "hub-out"));
  return c;
}

const RegisteredAgency* Courier::FindAgency(const std::string& id) const {
  const auto it = agencies_.find(id);
  return it == agencies_.end() ? nullptr : &it->second;
}

Status Courier::AddAgency(RegisteredAgency agency) {
  const std::string id = agency.id;
  if (!agencies_.emplace(id, std::move(agency)).second) {
    return AlreadyExists("agency '" + id + "' is already registered");
  }
  return Status::Ok();
}

Result<Sealed> Courier::Seal(const std::string& agency, crypto::EnvelopeHeader header,
                             std::string_view body, std::chrono::seconds lifetime) {
  const RegisteredAgency* reg = FindAgency(agency);
  if (reg == nullptr) return NotFound("unknown agency");
  MASH_ASSIGN_OR_RETURN(header.sequence, sequence_->Next());
  header.id = random_.Hex(16);
  header.sender = hub_id_;
  header.sender_key = SignFingerprint();
  header.recipient = reg->id;
  header.recipient_key = reg->enc.Fingerprint();
  header.issued_at = clock_.NowUnix();
  header.expires_at = header.issued_at + lifetime.count();
  // Registered before sealing, so that a failure below abandons the sequence with the ticket.
  Outbox::Ticket ticket = outbox_.Register(reg->id, header.sequence);
  MASH_ASSIGN_OR_RETURN(crypto::SealedEnvelope envelope,
                        crypto::Seal(header, common::AsBytes(body), sign_, reg->enc, random_));
  return Sealed{std::move(envelope), std::move(ticket)};
}

Result<crypto::OpenedEnvelope> Courier::OpenFrom(const std::string& agency,
                                                 const crypto::SealedEnvelope& envelope) {
  const RegisteredAgency* reg = FindAgency(agency);
  if (reg == nullptr) return Unauthenticated("unknown agency");
  crypto::OpenExpectations expect{agency, &reg->sign, hub_id_, &enc_, clock_.NowUnix()};
  return crypto::Open(envelope, expect, *replay_);
}

Result<crypto::OpenedEnvelope> Courier::OpenFromQueued(const std::string& agency,
                                                       const crypto::SealedEnvelope& envelope) {
  const RegisteredAgency* reg = FindAgency(agency);
  if (reg == nullptr) return Unauthenticated("unknown agency");
  crypto::OpenExpectations expect{agency, &reg->sign, hub_id_, &enc_, clock_.NowUnix()};
  storage::QueuedReplayGuard queued(*replay_);
  return crypto::Open(envelope, expect, queued);
}

Status Courier::CommitReplay() { return replay_->CommitQueued(); }

void Courier::PurgeReplayCache() {
  auto purged = replay_->Purge(clock_.NowUnix());
  if (!purged.ok()) {
    common::LogWarn("replay.purge_failed", {{"error", purged.status().ToString()}});
  }
}

}  // namespace mash::broker
