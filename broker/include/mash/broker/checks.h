// Agency checks at the hub: raise a check under the sharing agreement, send a sealed query to
// each agency, correlate the signed answers, and report each agency's part with its state.
//
// Every step is an audit event (DESIGN §8), and the service fails closed on the audit log:
//   - a check exists, and its queries go out, only once its check_raised event has committed;
//   - a refusal by the agreement is answered only once its request_refused event has committed;
//   - an answer counts (is shown, and gets its receipt) only once its answer_received event and
//     the category events with it have committed; if the log cannot take them, the answer is
//     dropped, the part is marked failed and the agency gets a generic error;
//   - a check is shown only once its result_viewed event has committed.
//
// The sharing agreement (policy::PolicySet, enforced and optional shadow version) decides for
// each agency of a check whether this person may ask it, and the highest level: a denial for any
// agency refuses the whole check, with the agreement's reasons. A check whose decision carries
// second_approver (an override of consent) waits in awaiting_authorisation and nothing is sent
// until a manager authorises it (Authorise). The agreement's version goes into
// every query's envelope header (policy_hash) and every event.
//
// Checks are kept in the broker's database (CheckStore) and reloaded at start; queries to an
// agency that is offline wait and go out when it connects, until the check is closed.
//
// The workflow (DESIGN §4, docs/workflow.md):
//   - Who: a check belongs to the team of the person who raised it. Only practitioners and
//     managers raise checks; they and their team's practitioners and managers read them; a
//     manager of the team (not the one who raised it) authorises an override; IG officers work
//     the alert queue (overrides of consent) without reading results. Anyone else gets NotFound,
//     as for a check that does not exist, and the refusal is audited.
//   - Deadlines: each check is due by its urgency (CheckServiceOptions::due, working hours and
//     bank holidays), counted from when its queries may go out. The hub chases an agency whose
//     part is still open at CheckServiceOptions::chase (agency_chased, and a sealed chase message
//     when it is online), and marks a breach when the deadline passes (deadline_breached). An
//     overdue part still takes its answer, marked late; the check shows "agency X has not
//     answered" rather than hiding it.
//   - The MASH decision (Decide) records the outcome and its rationale (mash_decision_recorded)
//     and closes the check: parts still open then end as no_answer, and later answers are
//     refused.
//   - Retention (PurgeExpired): a check closed longer ago than CheckServiceOptions::retention
//     loses its contents (subject, household, answers, texts) and keeps a tombstone; a
//     retention_purge event records it. The audit trail, which holds no plain identities, stays.
//
// Custodian review (docs/protocol.md): an agency may announce, with review_pending, that
// categories of its answer wait for its custodian; its part is then awaiting_agency_review
// (review_pending event) until follow-up answers for the same query bring those categories,
// each recorded like an answer (category events, answer_received, receipt) and merged into the
// compiled answer. The deadline keeps running: a follow-up after it is still recorded, and the
// part is marked late.
//
// Thread safety: used on the broker's io thread only. Audit callbacks arrive on the log's
// committer thread and are posted back to the io thread with `post`; they hold only a weak
// reference, so a callback that arrives after the service is gone does nothing.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/audit/sink.h"
#include "mash/broker/agent_hub.h"
#include "mash/broker/alerts.h"
#include "mash/broker/check_store.h"
#include "mash/broker/courier.h"
#include "mash/broker/staff.h"
#include "mash/common/clock.h"
#include "mash/crypto/pseudonym.h"
#include "mash/policy/evaluator.h"
#include "mash/schemas/messages.h"

namespace mash::broker {

struct RaiseRequest {
  schemas::Person subject;
  std::vector<schemas::Person> household;
  std::string purpose;
  std::string lawful_basis;
  std::string consent_state;  // given | refused | not_sought | withdrawn
  std::string evidence_ref;
  std::string override_ground;
  std::string justification;
  std::string urgency;  // red | amber | green
  int level = 1;
  std::vector<std::string> agencies;
  std::vector<std::string> categories;

  // Validates against schemas/api/check-request.schema.json plus what a schema cannot say:
  // purpose, lawful basis, override ground and urgency from the controlled vocabulary; consent
  // given needs an evidence reference; no consent needs an override ground and a justification.
  // InvalidArgument naming the field.
  static Result<RaiseRequest> FromJson(const nlohmann::json& body);
  // The request as the API takes it (FromJson(ToJson()) gives it back).
  nlohmann::json ToJson() const;
  // The consent field of the envelope header: the state, or "<state>;override:<ground>"
  // (docs/envelope.md).
  std::string ConsentTag() const;
};

// The outcomes of a MASH decision (DESIGN §4 step 6).
inline constexpr std::array<std::string_view, 5> kMashOutcomes = {
    "information_and_advice", "early_help", "child_and_family_assessment", "strategy_discussion",
    "no_further_action"};

class BrokerMetrics;

struct CheckServiceOptions {
  // The lifetime of each query envelope on the wire (not the check's deadline).
  std::chrono::seconds query_lifetime{120};
  // When a check of `urgency` whose queries may go out at `from` is due, and when its open parts
  // are chased. Unset: the vocabulary's hours (red 4, amber 24, green 72) counted round the
  // clock, chased at three quarters of that.
  std::function<common::TimePoint(common::TimePoint from, const std::string& urgency)> due;
  std::function<common::TimePoint(common::TimePoint from, const std::string& urgency)> chase;
  // Closed checks lose their contents this long after closing; zero keeps them.
  std::chrono::seconds retention{std::chrono::hours(24 * 365)};
  // Where checks are kept; null keeps them in memory only (a broker always has one).
  CheckStore* store = nullptr;
  // The IG alert queue, told of every check raised and result viewed; null: none. Must outlive
  // the service.
  AlertQueue* alerts = nullptr;
  // Queries handed to one agency's connection and not yet written; the rest wait in order, so
  // that a backlog never overflows the connection's queue (keep it below the hub's max_queue).
  int max_in_flight = 64;
  // The ops metrics (metrics.h): checks raised, answers, latencies, agents connected; null:
  // none. Must outlive the service.
  BrokerMetrics* metrics = nullptr;
};

class CheckService final : public AgentEvents {
 public:
  // Every check not purged is held in memory (and in the store); raising is refused beyond this
  // (retention keeps the number down: ResourceExhausted).
  static constexpr size_t kMaxChecks = 50000;

  // Runs a function on the service's (io) thread.
  using Post = std::function<void(std::function<void()>)>;
  // The JSON to show, or the error. PermissionDenied: refused by the agreement (the message
  // holds its reasons); InvalidArgument: a bad request; NotFound; Unavailable: the audit log
  // could not record it (nothing was done).
  using Done = std::function<void(Result<nlohmann::json>)>;

  // `audit`, `agreement` and `pseudonyms` must outlive the service's use of them (the broker
  // owns all of them and destroys the audit log last).
  CheckService(Courier& courier, const common::Clock& clock, common::RandomSource& random,
               audit::AuditSink& audit, std::shared_ptr<const policy::PolicySet> agreement,
               std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post,
               CheckServiceOptions options);
  ~CheckService() override;

  void AttachHub(std::shared_ptr<AgentHub> hub) { hub_ = std::move(hub); }

  // Told what the DPO pages show (PolicyView), on the service's thread: each agency part of a
  // check (raised, or refused by the agreement) that the shadow version decides differently,
  // and the disclosure policy version of each recorded answer (and of the stored answers, at
  // Load).
  class PolicyObserver {
   public:
    virtual ~PolicyObserver() = default;
    virtual void OnShadowDiffers(const std::string& check_ref, const std::string& agency,
                                 const policy::Decision& enforced,
                                 const policy::Decision& shadow) = 0;
    virtual void OnAgencyPolicySeen(const std::string& agency, const std::string& version,
                                    common::TimePoint when) = 0;
  };
  // `observer` (may be null) must outlive the service's use of it. Set before Load().
  void SetPolicyObserver(PolicyObserver* observer) { policy_observer_ = observer; }
  // Loads the stored checks that are not purged (at start, before any connection). Parts that
  // were on their way to an agency go out again; DataLoss when a stored check does not parse.
  Status Load();

  // Raises a check; `done` gets the check as Show() would (201) once check_raised committed.
  void Raise(const RaiseRequest& request, const Staff& staff, Done done);
  // A manager's decision on a check that awaits authorisation (an override of consent): a second
  // person, with the manager role, authorises (its queries go out) or rejects it (nothing is
  // ever sent), with a reason. `done` gets the check once check_authorised / check_rejected
  // committed. Errors: NotFound; FailedPrecondition when the check does not await
  // authorisation; PermissionDenied when `staff` is not a manager or raised the check;
  // InvalidArgument without a reason; Unavailable when the log cannot record it.
  void Authorise(const std::string& id, const Staff& staff, bool approve, const std::string& reason,
                 Done done);
  // The check as JSON for the API, after its result_viewed event committed. NotFound also when
  // `staff` may not read it (the refusal is audited).
  //
  // With `wait` > 0 (at most kMaxWait), a check that an agency is still to answer is shown once
  // none is (its compiled_at is then set) or once `wait` has passed, whichever comes first; the
  // refusal, when there is one, is not delayed. Beyond kMaxWaiters waiting requests, a request
  // is answered at once, as without `wait`.
  void Show(const std::string& id, const Staff& staff, Done done,
            std::chrono::seconds wait = std::chrono::seconds(0));
  static constexpr std::chrono::seconds kMaxWait{30};
  static constexpr size_t kMaxWaiters = 4096;
  // The checks `staff` may read, newest first, as summaries (no subject details, no answers):
  // id, state, urgency, purpose, raised_by, raised_at, due, overdue, breaches, decision.
  // `filter`: "open" (not closed), "overdue", "awaiting_authorisation", "closed" or "" (all).
  // Managers see their team's checks, practitioners their team's; other roles are refused.
  Result<nlohmann::json> List(const Staff& staff, const std::string& filter) const;
  // Records the MASH decision on a check and closes it. `outcome` is one of kMashOutcomes and
  // `rationale` 10 to 4000 characters. Errors: NotFound (or no access); FailedPrecondition when
  // the check awaits authorisation, was rejected or is closed; PermissionDenied for a role other
  // than practitioner or manager; InvalidArgument naming the field; Unavailable when the log
  // cannot record it.
  void Decide(const std::string& id, const Staff& staff, const std::string& outcome,
              const std::string& rationale, Done done);
  // The IG alert queue (options.alerts; null when there is none). Its override alerts show the
  // check's ground, justification, authorisation and state, never the subject or the answers.
  AlertQueue* alerts() const { return options_.alerts; }
  // Purges the contents of checks closed (decided or rejected) longer ago than the retention
  // period: each one's retention_purge event is appended, and once it committed the check leaves
  // memory and its stored row keeps only a tombstone. Returns how many purges were started.
  size_t PurgeExpired();
  // The check as JSON without recording a view (for tests and internal use).
  Result<nlohmann::json> Peek(const std::string& id) const;
  // Records a request the API refused before it reached the service (bad token, bad body), so
  // that every refused request has its row. Does not wait for the commit.
  void RecordRefusal(const Staff& staff, std::string_view detail);
  // Counts a request without a valid token; Sweep() records them as one request_refused event
  // ("unauthenticated xN") per second at most.
  void RecordUnauthenticated();
  // How many checks are held in each overall state (the ops metrics' gauge).
  std::map<std::string, size_t> CountByState() const;
  // Registered agencies and whether each is online.
  nlohmann::json Agencies() const;
  // Marks parts whose query expired without an answer. Called periodically.
  void Sweep();
  const policy::PolicySet& agreement() const { return *agreement_; }
  // The agreement that decides checks raised from now on (a reload: SIGHUP). Checks already
  // raised keep the decisions they were raised under.
  void SetAgreement(std::shared_ptr<const policy::PolicySet> agreement) {
    agreement_ = std::move(agreement);
  }

  // Draining (SIGTERM): from now on raising a check and authorising an override are refused
  // with Unavailable (a generic 503) and a request_refused event (detail "broker_draining"),
  // and queued queries stay queued (stored: they go out after the restart). Queries already on
  // their way and their answers go on as before. There is no way back: the broker stops next.
  void BeginDrain() { draining_ = true; }
  bool draining() const { return draining_; }
  // Agency parts whose query is on its way or was written to an agent and is not answered yet,
  // or whose answer is being recorded, in checks that are not closed: what a drain waits for.
  size_t InFlightQueries() const;

  // AgentEvents
  void OnAgentOnline(const std::string& agency) override;
  void OnAgentOffline(const std::string& agency) override;
  void OnSessionClosed(const std::string& agency, uint64_t session) override;
  Status OnAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope) override;
  Status OnReviewPending(const std::string& agency,
                         const crypto::SealedEnvelope& envelope) override;
  std::optional<schemas::WelcomeAudit> OnHello(const std::string& agency, uint64_t session,
                                               const schemas::Hello& hello) override;
  void OnSessionActive(const std::string& agency, uint64_t session) override;

 private:
  // kSending: handed to the connection, not yet written; kSent: written to the socket;
  // kRecording: answered, waiting for the answer's audit events to commit.
  enum class PartState {
    kAwaitingAuthorisation,
    kQueued,
    kSending,
    kSent,
    kRecording,
    kAnswered,
    kExpired,
    kFailed,
    kRejected
  };
  struct Part {
    std::string agency;
    PartState state = PartState::kQueued;
    int level = 0;     // granted by the agreement
    std::string rule;  // the agreement rule that granted it
    std::string query_id;
    uint64_t session = 0;         // the connection it was last sent over
    common::TimePoint sent_at{};  // when the query was handed to the connection
    common::TimePoint answered_at{};
    std::optional<schemas::AnswerBody> answer;  // compiled: follow-ups merged in
    // Custodian review at the agency (review_pending): the categories announced, those still
    // waiting once the announcement committed (shown as awaiting_agency_review), and those
    // whose follow-up answer is being recorded.
    std::vector<std::string> review_announced;
    std::vector<std::string> review;
    std::vector<std::string> review_recording;
    common::TimePoint review_since{};
    bool review_overdue = false;    // the check's deadline passed while waiting
    bool late = false;              // an answer or follow-up arrived after the deadline
    common::TimePoint chased_at{};  // when the hub chased the agency (zero: not chased)
    bool breached = false;          // the deadline passed while the part was open
  };
  struct Check {
    std::string id;
    RaiseRequest request;
    Staff raised_by;
    std::vector<std::string> subjects;  // pseudonyms
    std::vector<std::string> obligations;
    bool recorded = false;  // its check_raised event has committed
    bool deciding = false;  // an authorisation decision is being recorded
    // The manager's decision on an override: who, when, and why (kept with the check, not in
    // the audit trail, which holds no free text).
    std::string decided_by;
    std::string decision;  // "authorised" | "rejected"
    std::string decision_reason;
    common::TimePoint decided_at{};
    common::TimePoint raised_at{};
    // From when the queries may go out (raising, or the authorisation of an override).
    common::TimePoint started_at{};
    common::TimePoint due_at{};
    common::TimePoint chase_at{};
    // The MASH decision, which closes the check.
    std::string outcome;
    std::string rationale;
    std::string outcome_by;
    common::TimePoint closed_at{};
    bool closing = false;  // the decision is being recorded
    // An IG officer's acknowledgement of the override, as checks stored it before the alert
    // queue kept its own alerts (read once, to make the alert: AlertQueue::OnCheckLoaded).
    std::string legacy_ack_by;
    std::string legacy_ack_note;
    common::TimePoint legacy_ack_at{};
    bool purging = false;  // its retention_purge event is being recorded
    // When no agency was left to answer: the last open part answered (recorded), failed or
    // ended without an answer. Zero while a part is open.
    common::TimePoint compiled_at{};
    std::map<std::string, Part> parts;
  };
  // A Show(..., wait) waiting for its check to be compiled.
  struct Waiter {
    Staff staff;
    Done done;
    common::TimePoint until;
  };

  // The audit event common to everything about `check`.
  audit::AuditEvent EventFor(const Check& check, audit::EventType type, const Staff& who) const;
  std::vector<std::string> Pseudonyms(const RaiseRequest& request) const;
  // Appends `events` and calls `done` on the io thread: OK once every one committed, or the
  // first error.
  void AppendAll(std::vector<audit::AuditEvent> events,
                 std::function<void(Result<uint64_t> last_seq)> done);
  void OnRaiseCommitted(const std::string& id, Result<uint64_t> committed, const Done& done);
  void OnRaiseSaved(const std::string& id, Status saved, const Done& done);
  void OnAnswerCommitted(const std::string& id, const std::string& agency,
                         const crypto::SealedEnvelope& envelope, const std::string& answer_id,
                         Result<uint64_t> committed);
  // One category_disclosed / category_withheld event per category of `body` and the
  // answer_received event (with `detail` when not empty), as the log records an answer.
  std::vector<audit::AuditEvent> AnswerEvents(const Check& check, const Part& part,
                                              const std::string& agency,
                                              const crypto::SealedEnvelope& envelope,
                                              const schemas::AnswerBody& body,
                                              const std::string& detail) const;
  // A later answer for a part whose categories wait for the agency's custodian: it may carry
  // only those categories (InvalidArgument otherwise); recorded like an answer, then merged.
  Status OnFollowUp(Check& check, Part& part, const crypto::SealedEnvelope& envelope,
                    const crypto::EnvelopeHeader& header, schemas::AnswerBody body);
  void OnFollowUpCommitted(const std::string& id, const std::string& agency,
                           const crypto::SealedEnvelope& envelope, const std::string& answer_id,
                           const schemas::AnswerBody& body, bool late, Result<uint64_t> committed);
  // The state a part is shown with: awaiting_agency_review while categories wait.
  static std::string ShownState(const Part& part);
  // The agencies whose custodian still reviews categories of their answer.
  static std::vector<std::string> AwaitingReview(const Check& check);
  void SendReceipt(const std::string& agency, const std::string& check_ref,
                   const crypto::SealedEnvelope& answer, const std::string& answer_id,
                   uint64_t seq);
  void RecordFailure(const std::string& agency, std::string_view detail,
                     const std::string& check_ref = "");
  void FlushUnauthenticated();
  // Appends `event` without waiting for its commit (for refusals and failures).
  void AppendUnwaited(audit::AuditEvent event);
  // A query whose query_sent event committed (or failed). Committed, it goes to the agency's
  // connection in sequence order (outbox.h): at once when nothing sealed before it for that
  // agency is still waiting, else once everything before it was sent or given up (SendQuery then
  // runs later, and checks again that the part still waits for it). Failed, its sequence is
  // given up.
  void OnQueryRecorded(const std::string& id, const std::string& agency, const std::string& frame,
                       const Outbox::Ticket& ticket, Result<uint64_t> committed);
  // Hands the query of (`id`, `agency`) to the agency's connection, when the part still waits for
  // it and `recorded` is OK; otherwise releases its place in the in-flight cap.
  void SendQuery(const std::string& id, const std::string& agency, const std::string& frame,
                 const Status& recorded);
  // Receipts go only to a connection an agent answers on (AgentHub::ActiveSession), with the
  // consistency proof from the checkpoint size that connection holds. One that cannot be sent
  // now, or whose connection closed before it was written, is kept and goes out on the next
  // such connection.
  void KeepReceipt(const std::string& agency, const std::string& check_ref,
                   const crypto::SealedEnvelope& answer, const std::string& answer_id,
                   uint64_t seq);
  // Sends the kept receipts of `agency` when a connection it answers on is open.
  void SendKeptReceipts(const std::string& agency);

  // Sends waiting queries to `agency` while it is online and under its in-flight cap.
  void DispatchWaiting(const std::string& agency);
  // The envelope header of a hub message of `type` about `check` (docs/envelope.md).
  crypto::EnvelopeHeader HeaderFor(const Check& check, std::string_view type) const;
  // Seals and hands one query to the hub; false when it could not be handed over.
  bool Dispatch(Check& check, Part& part);
  void OnDelivered(const std::string& check_id, const std::string& agency, bool written);
  // The deadline and chase time of a check whose queries may go out from `from`.
  void StartClock(Check& check, common::TimePoint from) const;
  // Chases and marks breaches of open parts (Sweep).
  void WatchDeadlines(Check& check);
  // Seals and sends a chase to an online agency (best effort: the event is what counts).
  void SendChase(const Check& check, const Part& part);
  // Writes `check` to the store; a failure is logged and recorded as request_failed.
  Status Save(const Check& check);
  // Group commit of the store (as the audit log's): queues `check` to be written, with what
  // must wait for the row to be on disk. The checks queued while the io thread is busy are
  // written together once it is done with what it has (one transaction, one sync), and then
  // each `then` runs with the outcome (a failure is logged and recorded as with Save). A check
  // gone by then (purged) is not written; its `then` gets OK.
  void SaveThen(const Check& check, std::function<void(Status)> then);
  // The same for the replay records of answers (Courier::OpenFromQueued): `then` runs once they
  // are committed (first in FlushSaves), with the outcome.
  void ReplayThen(std::function<void(Status)> then);
  void PostFlush();
  void FlushSaves();
  // An answer whose replay record is on disk: matched to its part and recorded.
  Status AcceptAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope,
                      const crypto::OpenedEnvelope& opened);
  StoredCheck RowOf(const Check& check) const;
  static nlohmann::json ToDocument(const Check& check);
  static Result<Check> FromDocument(const nlohmann::json& doc);
  // Whether `staff` may read `check` (the raiser, or a practitioner or manager of its team).
  static bool MayRead(const Check& check, const Staff& staff);
  // Records a refused request about `check` without waiting for the commit (the caller's error
  // is answered at once: a bad field, a state that does not allow the request).
  void RecordRefusal(const Check& check, const Staff& staff, std::string_view detail);
  // Records a refused request about `check` (who asked for what) and answers `done` with
  // `error` once it committed.
  void Refuse(const Check& check, const Staff& staff, std::string_view detail, Status error,
              const Done& done);
  static bool IsOpen(const Part& part);
  // Sets compiled_at once no part of `check` is open (its waiters are then shown it by
  // WakeWaiters).
  void NoteIfCompiled(Check& check);
  // Shows `check` to the waiters whose check is compiled or whose wait has passed (all of
  // them for `id` when `id` is given and that check is compiled).
  void WakeWaiters(const std::string& id = "");
  // Show without waiting: records result_viewed, then answers.
  void ShowNow(const std::string& id, const Staff& staff, Done done);
  static std::string_view StateName(PartState s);
  std::string OverallState(const Check& check) const;
  nlohmann::json ToJson(const Check& check) const;
  nlohmann::json Summary(const Check& check) const;
  // What the alert queue shows of an override's check, and the summary of its alert.
  nlohmann::json OverrideDetails(const Check& check) const;
  static std::string OverrideSummary(const Check& check);

  Courier& courier_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  audit::AuditSink& audit_;
  std::shared_ptr<const policy::PolicySet> agreement_;
  std::shared_ptr<const crypto::Pseudonymiser> pseudonyms_;
  Post post_;
  CheckServiceOptions options_;
  std::shared_ptr<AgentHub> hub_;
  PolicyObserver* policy_observer_ = nullptr;
  // Expires with the service: posted audit callbacks check it before touching anything.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::map<std::string, Check> checks_;
  std::map<std::string, std::deque<std::string>> waiting_;  // agency -> check ids, oldest first
  std::map<std::string, int> in_flight_;                    // agency -> parts kSending
  bool draining_ = false;
  // The checkpoint size each connection (by its AgentHub session number) holds, as far as the
  // broker knows (from its hello, then from its welcome and each receipt sent over it), for the
  // consistency proofs it is owed. Per connection, not per agency: a second connection of the
  // agency (test-connection, a second instance) is shown its own checkpoint, and must not move
  // the size the first connection's next receipt is proved from.
  std::map<uint64_t, uint64_t> held_size_;
  struct UnsentReceipt {
    std::string check_ref;
    crypto::SealedEnvelope answer;
    std::string answer_id;
    uint64_t seq = 0;
  };
  static constexpr size_t kMaxUnsentReceipts = 10000;
  std::map<std::string, std::deque<UnsentReceipt>> unsent_receipts_;
  uint64_t unauthenticated_ = 0;
  std::map<std::string, std::vector<Waiter>> waiters_;  // check id -> Show(..., wait) requests
  size_t waiter_count_ = 0;
  // SaveThen's queue: the checks to write and what waits for them.
  std::vector<std::string> save_ids_;
  std::vector<std::function<void(Status)>> save_then_;
  std::vector<std::function<void(Status)>> replay_then_;
  bool save_posted_ = false;
};

}  // namespace mash::broker
