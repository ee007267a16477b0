// The agent's narrow door to its secrets: its signing and encryption keys, the broker's pinned
// public keys, the durable replay store and the record source. The channel hands it sealed
// queries and sends back whatever sealed answer it returns; the channel never holds a key.
//
// Thread safety: none; used from the agent's io thread only.
#pragma once

#include <memory>
#include <string>

#include "mash/agent/config.h"
#include "mash/agent/records.h"
#include "mash/common/clock.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"
#include "mash/storage/replay_store.h"

namespace mash::agent {

class Responder {
 public:
  static Result<std::unique_ptr<Responder>> Create(const AgentConfig& config,
                                                   const common::Clock& clock,
                                                   common::RandomSource& random);

  // The hello this agent sends.
  schemas::Hello MakeHello() const;
  // true when the welcome names the broker keys this agent pinned.
  bool WelcomeMatches(const schemas::Welcome& welcome) const;

  // Verifies, opens and answers a query that arrived from the broker. Returns the answer frame
  // (JSON text) to send. Errors are for the log; the peer only gets a generic error.
  Result<std::string> Answer(const crypto::SealedEnvelope& query);

 private:
  Responder(crypto::SigningKey sign, crypto::EncryptionKey enc, const common::Clock& clock,
            common::RandomSource& random)
      : sign_(std::move(sign)), enc_(std::move(enc)), clock_(clock), random_(random) {}

  schemas::AnswerBody BuildAnswer(const schemas::QueryBody& query) const;

  crypto::SigningKey sign_;
  crypto::EncryptionKey enc_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  std::string agency_id_;
  std::string hub_id_;
  std::chrono::seconds answer_lifetime_{120};
  crypto::SigningPublicKey broker_sign_;
  crypto::EncryptionPublicKey broker_enc_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<storage::SqlReplayStore> replay_;
  std::unique_ptr<storage::SequenceCounter> sequence_;
  std::unique_ptr<FixtureRecords> records_;
};

}  // namespace mash::agent
