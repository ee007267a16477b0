// The broker's narrow door to its secrets: the hub's signing and encryption keys, the registered
// keys of every agency, and the durable replay store. Nothing else in the broker seals or opens
// an envelope, and sessions never see a private key or a database handle.
//
// Thread safety: none; used from the broker's io strand only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "mash/broker/config.h"
#include "mash/broker/outbox.h"
#include "mash/common/clock.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"
#include "mash/storage/replay_store.h"

namespace mash::broker {

// A sealed envelope and its place in its recipient's line (outbox.h): send its frame only through
// ticket.Send, which keeps the frames to each agency in sequence order. Dropping the ticket without
// Send gives the sequence up.
struct Sealed {
  crypto::SealedEnvelope envelope;
  Outbox::Ticket ticket;
};

struct RegisteredAgency {
  std::string id;
  std::string name;
  std::string type;
  crypto::SigningPublicKey sign;
  crypto::EncryptionPublicKey enc;
};

class Courier {
 public:
  // Loads keys (refusing loose key-file permissions) and opens the SQLCipher database.
  static Result<std::unique_ptr<Courier>> Create(const BrokerConfig& config,
                                                 const common::Clock& clock,
                                                 common::RandomSource& random);

  const RegisteredAgency* FindAgency(const std::string& id) const;
  // Registers an agency enrolled at run time (enrolment.h). AlreadyExists when the id is taken.
  Status AddAgency(RegisteredAgency agency);
  const std::map<std::string, RegisteredAgency>& agencies() const { return agencies_; }
  const std::string& hub_id() const { return hub_id_; }
  std::string SignFingerprint() const { return sign_.Public().Fingerprint(); }
  std::string EncFingerprint() const { return enc_.Public().Fingerprint(); }
  const crypto::SigningPublicKey& SignPublic() const { return sign_.Public(); }
  const crypto::EncryptionPublicKey& EncPublic() const { return enc_.Public(); }

  // Seals `body` to `agency`. The caller fills the purpose fields of `header` (type, check_ref,
  // purpose, lawful_basis, consent, urgency, policy_hash); id, sender, recipient, keys, times
  // and sequence are set here, and the sequence is registered in the outbox for `agency`.
  // Errors: NotFound (unknown agency), Unavailable (storage).
  Result<Sealed> Seal(const std::string& agency, crypto::EnvelopeHeader header,
                      std::string_view body, std::chrono::seconds lifetime);

  // Opens an envelope that arrived on `agency`'s authenticated connection (see crypto::Open).
  Result<crypto::OpenedEnvelope> OpenFrom(const std::string& agency,
                                          const crypto::SealedEnvelope& envelope);

  // As OpenFrom, but the replay record is queued (group commit): nothing may be done with the
  // envelope until CommitReplay() returned OK; on its error, every envelope opened this way
  // since the last commit must be refused.
  Result<crypto::OpenedEnvelope> OpenFromQueued(const std::string& agency,
                                                const crypto::SealedEnvelope& envelope);
  // Writes the queued replay records in one transaction. Unavailable when it cannot.
  Status CommitReplay();

  // Drops replay ids that can no longer be accepted anyway.
  void PurgeReplayCache();

 private:
  Courier(crypto::SigningKey sign, crypto::EncryptionKey enc, const common::Clock& clock,
          common::RandomSource& random)
      : sign_(std::move(sign)), enc_(std::move(enc)), clock_(clock), random_(random) {}

  crypto::SigningKey sign_;
  crypto::EncryptionKey enc_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  std::string hub_id_;
  std::map<std::string, RegisteredAgency> agencies_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<storage::SqlReplayStore> replay_;
  std::unique_ptr<storage::SequenceCounter> sequence_;
  Outbox outbox_;
};

}  // namespace mash::broker
