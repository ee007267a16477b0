// The agent's narrow door to its secrets: its signing and encryption keys, the broker's pinned
// public keys, the durable replay store, the record source, the agency's disclosure policy, the
// disclosure log and the witness of the hub's audit log. The channel hands it the welcome,
// sealed queries and sealed receipts, and sends back whatever sealed answer it returns; the
// channel never holds a key or a database handle.
//
// Answers follow the agency's disclosure policy (docs/agent.md): every held category is decided
// by the enforced policy version (and the shadow version, whose differences are logged and
// recorded), and the answer and its envelope header carry the enforced version. Every answer
// sent is recorded in the disclosure log before it is returned.
//
// Witness (DESIGN §8): the agent holds the newest checkpoint of the hub's audit log it verified,
// shows it in its hello, and accepts a newer one (in the welcome or a receipt) only with a
// consistency proof. An inconsistency raises an alarm that is persisted: from then on, and after
// restarts, no query is answered (Answer returns Unavailable) until an operator runs
// `mash-agent audit-reset`.
//
// Custodian review (review_queue.h, docs/agent.md): categories the policy routes to a person are
// answered `review`, kept as a review item, and announced to the broker with a review_pending
// frame that the channel sends (TakeOutgoing) just before the answer. Items the custodian has
// decided are answered by PollReviews, which the channel calls every second while connected.
//
// Thread safety: none; used from the agent's io thread only, except FindRecords, which the lookup
// worker (lookup_worker.h) calls for one query at a time while the io thread goes on: it reads
// only the record source, which nothing else touches after Create.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/config.h"
#include "mash/agent/disclosure.h"
#include "mash/agent/disclosure_log.h"
#include "mash/agent/metrics.h"
#include "mash/agent/record_source.h"
#include "mash/agent/review_queue.h"
#include "mash/audit/witness.h"
#include "mash/common/clock.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/policy/evaluator.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"
#include "mash/storage/replay_store.h"

namespace mash::agent {

class Responder {
 public:
  // Loads keys, records and the disclosure policy (LoadDisclosurePolicies), opens the database,
  // restores the held checkpoint and any raised alarm. Errors: those of the loaders;
  // FailedPrecondition when the held checkpoint no longer verifies with [audit] log_public_key
  // (another hub key: see `mash-agent audit-reset`).
  static Result<std::unique_ptr<Responder>> Create(const AgentConfig& config,
                                                   const common::Clock& clock,
                                                   common::RandomSource& random);

  // The hello this agent sends, with the checkpoint it holds (size and hex root), if any.
  schemas::Hello MakeHello() const;
  // true when the welcome names the broker keys this agent pinned.
  bool WelcomeMatches(const schemas::Welcome& welcome) const;
  // Verifies the audit checkpoint a (key-matched) welcome presents, with its consistency proof
  // from the held checkpoint, and keeps it. OK: this connection may answer queries; also OK when
  // nothing is held and the welcome shows no checkpoint. Errors (logged; the connection must
  // not be used for answering): FailedPrecondition when a checkpoint is held and the welcome
  // shows none, or when the alarm is raised; InvalidArgument / Unauthenticated when the
  // checkpoint or proof does not verify (no alarm); DataLoss when the log is inconsistent with
  // the held checkpoint (alarm raised and persisted); storage errors.
  Status OnWelcome(const schemas::Welcome& welcome);

  // A query verified and opened on the io thread, waiting for its records.
  struct OpenedQuery {
    crypto::EnvelopeHeader header;
    schemas::QueryBody body;
    ConsentTag consent;
  };
  // What the record source found for one query.
  struct Found {
    std::vector<SourceMatch> matches;
    std::optional<std::vector<HouseholdMatch>> household;  // nullopt: not looked up
  };

  // The three steps of Answer, for the channel to run the middle one on the lookup worker:
  // OpenQuery (io thread) verifies and opens the query (errors as Answer's, before any lookup);
  // FindRecords (any one thread at a time) asks the record source; FinishAnswer (io thread)
  // decides, seals, records and returns the frame, or Unavailable when `found` is an error or
  // the alarm was raised (or a welcome refused) meanwhile.
  Result<OpenedQuery> OpenQuery(const crypto::SealedEnvelope& query);
  Result<Found> FindRecords(const OpenedQuery& query) const;
  Result<std::string> FinishAnswer(const OpenedQuery& query, Result<Found> found);

  // Verifies, opens and answers a query that arrived from the broker. Returns the answer frame
  // (JSON text) to send. Errors are for the log; the peer only gets a generic error:
  // Unavailable while the audit alarm is raised, after a refused welcome, or when the answer
  // cannot be recorded in the disclosure log, or when the record source fails (a connector that
  // crashed, timed out or printed something invalid: never a partial answer);
  // Unauthenticated / InvalidArgument for a bad query.
  Result<std::string> Answer(const crypto::SealedEnvelope& query);

  // Verifies a receipt the broker sealed for one of this agent's answers (docs/agent.md) and
  // stores it with the checkpoint it brings. The receipt's checkpoint is witnessed first: when
  // it is validly signed and consistent it is held even if the rest of the receipt is refused.
  // Errors (logged; no alarm): Unauthenticated / InvalidArgument (bad envelope, bad signature,
  // malformed body or proof, another event), NotFound (no such answer was sent), FailedPrecondition
  // (alarm raised), AlreadyExists (a receipt for that answer is held). DataLoss when the receipt's
  // checkpoint is inconsistent with the held one: the alarm is raised and persisted.
  Status OnReceipt(const crypto::SealedEnvelope& receipt);

  // What the agent made of a chase (docs/protocol.md): the hub says the agency's part of a
  // check is due soon and still waits.
  enum class ChaseOutcome {
    kChased,           // the query's review item is pending: marked chased (review.chased)
    kAlreadyAnswered,  // answered, or the custodian has decided: nothing to do
    kUnknownQuery,     // no record of the query here: the hub sends it again on reconnect
  };
  // Verifies and opens a chase exactly as a query is opened (the broker's signature, recipient,
  // time window, replay store; header type `chase`; a chase-body), then looks the query up:
  // its review item (which must be of the header's check), else an answer to the check in the
  // disclosure log. Nothing is sent back. Errors (logged as chase.rejected; nothing changed):
  // FailedPrecondition while the audit alarm is raised; Unauthenticated / InvalidArgument for
  // a bad envelope or body, or a review item of another check; storage errors.
  Result<ChaseOutcome> OnChase(const crypto::SealedEnvelope& chase);

  // Frames to send before the answer Answer() just returned (a review_pending for its
  // categories that wait for the custodian), oldest first; empties the list. After a failed
  // Answer() they must be dropped (the review item stays and is announced again when the
  // query is asked again).
  std::vector<std::string> TakeOutgoing();
  // The follow-up answers of review items the custodian has decided, sealed and recorded in
  // the disclosure log, ready to send; the items are marked sent. After a new welcome, the
  // follow-ups sent before that have no receipt yet are sent again (in new envelopes; the
  // broker refuses a copy it already holds). Nothing while the alarm is raised or the welcome
  // was refused. Errors are logged; an item that cannot be answered now is tried again.
  std::vector<std::string> PollReviews();
  // A new connection was welcomed: the next PollReviews also sends again the follow-ups that
  // have no receipt.
  void OnConnected() { resend_reviews_ = true; }
  ReviewQueue& review_queue() { return *reviews_; }

  // The witness alarm: raised now or restored from the database.
  bool alarmed() const;
  // True when the hub's log has not been proven consistent with the held checkpoint on this
  // connection (a welcome or a receipt whose checkpoint was not accepted): the agent answers no
  // query until a new connection's welcome proves it. The channel then reconnects.
  bool NeedsResync() const { return welcome_refused_; }
  std::string alarm_reason() const { return alarm_; }
  const audit::Witness& witness() const { return *witness_; }
  const policy::PolicySet& policies() const { return *policies_; }
  // The disclosure policy for answers built from now on (a reload: SIGHUP; loaded and checked
  // by LoadDisclosurePolicies as at start). On the io thread.
  void SetPolicies(std::shared_ptr<const policy::PolicySet> policies) {
    policies_ = std::move(policies);
  }
  // For status and tests.
  DisclosureLog& disclosure_log() { return *log_; }
  // Counts query outcomes and disclosure-log appends (metrics.h); null: none. Must outlive the
  // responder's use of it. Set before the channel starts.
  void set_metrics(AgentMetrics* metrics) { metrics_ = metrics; }
  // True while the last write to the disclosure log failed (nothing can be answered: an answer
  // not in the log is not sent). Cleared by the next write that succeeds. For /readyz.
  bool disclosure_log_failing() const { return disclosure_log_failing_; }

 private:
  struct Built;

  Responder(crypto::SigningKey sign, crypto::EncryptionKey enc, const common::Clock& clock,
            common::RandomSource& random)
      : sign_(std::move(sign)), enc_(std::move(enc)), clock_(clock), random_(random) {}

  Built BuildAnswer(const OpenedQuery& query, const Found& found) const;
  // One query outcome for the metrics (metrics.h), when they are set.
  void Count(std::string_view outcome);
  // Keeps a review item for the categories of `query` in `pending` (or finds the one kept when
  // the query was asked before) and queues its review_pending frame. Storage and sealing
  // errors (the query is then answered `unavailable`).
  Status QueueReview(const schemas::QueryBody& query, const crypto::EnvelopeHeader& header,
                     const schemas::AnswerBody& answer, const std::vector<ReviewCategory>& pending);
  // Seals `plaintext` to the hub as `type` with the purpose fields of `why` (check reference,
  // purpose, lawful basis, consent, urgency); `sent` (optional) gets the header sealed.
  // Storage (sequence) and sealing errors.
  Result<crypto::SealedEnvelope> SealToHub(const std::string& type,
                                           const crypto::EnvelopeHeader& why,
                                           const std::string& plaintext,
                                           crypto::EnvelopeHeader* sent = nullptr);
  // Seals the follow-up answer of a decided item and records it in the disclosure log before
  // it leaves. Storage, sealing and size errors.
  Result<std::string> FollowUpFrame(const ReviewItem& item);
  // A receipt for `answer_id` was stored: when it is a review follow-up, its item is done.
  void NoteFollowUpReceipt(const std::string& answer_id);
  // Records and logs an inconsistency of the hub's log; returns the DataLoss to report.
  Status RaiseAlarm(const std::string& reason, const std::string& presented);
  // Persists the witness's held checkpoint when it changed.
  Status PersistHeld();

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
  std::unique_ptr<RecordSource> records_;
  std::shared_ptr<const policy::PolicySet> policies_;
  std::unique_ptr<DisclosureLog> log_;
  std::unique_ptr<ReviewQueue> reviews_;
  std::vector<std::string> outgoing_;  // frames to send before the current answer
  bool resend_reviews_ = false;        // a new welcome: send unreceipted follow-ups again
  std::unique_ptr<audit::Witness> witness_;
  std::string persisted_checkpoint_;  // the checkpoint text in the database
  std::string alarm_;                 // non-empty while the alarm is raised
  bool welcome_refused_ = false;      // the last welcome's checkpoint was not accepted
  AgentMetrics* metrics_ = nullptr;
  bool disclosure_log_failing_ = false;
};

}  // namespace mash::agent
