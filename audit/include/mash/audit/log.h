// AuditLog: the broker's append-only, tamper-evident audit log in a SQLCipher database
// (DESIGN §8, docs/audit-format.md §Store).
//
// Appends are group-committed: Append() queues the event and returns at once; a committer thread
// takes everything queued (up to max_batch), writes the rows, the Merkle nodes that became
// complete and, when due, a signed checkpoint, in ONE transaction (one fsync), and only then
// calls each callback with the sequence number. If the transaction fails (disk full, I/O error)
// every callback of the batch gets the error and nothing of the batch is in the log: the caller
// must not release the answer (fail closed).
//
// Open() runs the start-up self-check (VerifyLog, incremental from the checkpoint verified at the
// previous start, and against the anchor file when configured) and refuses to open on any
// mismatch. Only one AuditLog may write a database: Open takes an exclusive lock (flock) on
// "<db>.lock".
//
// Thread safety: every public member function is safe from any thread. Callbacks run on the
// committer thread, with no lock of the log held (they may call Append). Destruction drains the
// queue (every callback is called) and stops the committer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mash/audit/checkpoint.h"
#include "mash/audit/event.h"
#include "mash/audit/merkle.h"
#include "mash/audit/receipt.h"
#include "mash/audit/sink.h"
#include "mash/audit/verify.h"
#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/storage/database.h"

namespace mash::audit {

struct AuditLogOptions {
  std::string origin = "mash-broker";
  // A checkpoint is signed when this many events were appended since the last one...
  uint64_t checkpoint_every_events = 1000;
  // ...or this much time passed with unsigned events.
  std::chrono::milliseconds checkpoint_every{10000};
  // Most events in one transaction.
  size_t max_batch = 8192;
  // Append fails with ResourceExhausted beyond this many queued events.
  size_t max_queue = 1'000'000;
  // When set, the newest checkpoint text is also written here (atomically) after each commit
  // that made one, and the start-up check requires the database to be consistent with it: a
  // database restored from an older copy is refused.
  std::optional<std::filesystem::path> anchor_file;
  // Start-up self-check: incremental from the last verified checkpoint, or the whole log.
  bool verify_on_open = true;
  bool full_verify_on_open = false;
  // Witness checkpoints (e.g. from agents' hello) the log must be consistent with at open.
  std::vector<SignedCheckpoint> trusted;
  // Retention period: PurgeExpired() removes events older than this. Unset keeps everything.
  std::optional<std::chrono::seconds> retention;
  // Told of each transaction the committer ran (one fsync batch), on the committer thread:
  // how many events it appended (0 when it only signed a checkpoint) and whether it committed.
  // Must be quick and thread-safe (the broker's metrics). Optional.
  std::function<void(size_t events, bool committed)> on_commit;
};

class AuditLog final : public AuditSink {
 public:
  // Opens the log in `db` (creating its tables), runs the start-up check and starts the
  // committer. Errors: DataLoss with the verify report's problem when the check fails;
  // FailedPrecondition when another AuditLog holds the database; storage errors otherwise.
  static Result<std::unique_ptr<AuditLog>> Open(std::unique_ptr<storage::Database> db,
                                                std::shared_ptr<const crypto::SigningKey> key,
                                                std::shared_ptr<const common::Clock> clock,
                                                AuditLogOptions options);
  ~AuditLog() override;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `event` (its seq and time_ms are assigned at commit). `done` is called exactly once:
  // with the sequence number after the event's transaction committed, or with the error
  // (InvalidArgument for an invalid event, ResourceExhausted when the queue is full or the store
  // is full, Unavailable when closed or on I/O errors).
  void Append(AuditEvent event, Callback done) override;
  // Append and wait for the commit.
  Result<uint64_t> AppendAndWait(AuditEvent event);
  // Waits until every event queued before the call has been committed or failed.
  void Flush();
  // Signs and stores a checkpoint of everything committed now (no-op if the newest checkpoint
  // already covers it) and returns the newest checkpoint.
  Result<SignedCheckpoint> Checkpoint();

  // Number of committed events (the tree size).
  uint64_t Size() const;
  std::optional<SignedCheckpoint> LatestCheckpoint() const;
  // The seal: a signed checkpoint of exactly the committed end, rewritten by every commit
  // (docs/audit-format.md §3). What a broker presents in welcome and receipts.
  std::optional<SignedCheckpoint> LatestSeal() const override;
  Result<Bytes> EncodedEvent(uint64_t seq) const override;
  // Proofs over the committed tree. InvalidArgument when the sizes are out of range.
  Result<std::vector<Hash>> InclusionProof(uint64_t seq, uint64_t tree_size) const;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const override;
  // A receipt for committed event `seq`: inclusion proof in the newest seal (a signed checkpoint
  // of the committed end, so no extra transaction is needed) and, when 0 < held_size < its size,
  // the consistency proof from `held_size` (the checkpoint size the agent holds).
  // FailedPrecondition when held_size exceeds the log (the agent has seen a longer log).
  Result<Receipt> MakeReceipt(uint64_t seq, uint64_t held_size = 0) override;

  // Retention: removes the events older than `cutoff` (their leaf hashes stay, so that the tree
  // and chain still verify), records a retention_purge event and signs a tombstone checkpoint
  // with retained-from = the first kept sequence number. Returns the number of events removed.
  Result<uint64_t> Purge(common::TimePoint cutoff);
  // Purge(now - options().retention); 0 when no retention period is configured. The broker calls
  // it on a timer (e.g. daily).
  Result<uint64_t> PurgeExpired();

  const AuditLogOptions& options() const { return options_; }
  // True while the last transaction the committer ran failed (disk full, I/O error, the size
  // ceiling): nothing can be recorded, so nothing may be released. Cleared by the next commit
  // that succeeds. Safe from any thread (the broker's readiness check reads it).
  bool commit_failing() const { return commit_failing_.load(std::memory_order_relaxed); }
  // The report of the start-up check.
  const VerifyReport& startup_report() const { return startup_report_; }

 private:
  struct Pending {
    AuditEvent event;
    Callback done;
  };
  struct State;
  AuditLog(std::unique_ptr<storage::Database> db, std::shared_ptr<const crypto::SigningKey> key,
           std::shared_ptr<const common::Clock> clock, AuditLogOptions options);
  Status Init();
  void Run();
  void CommitBatch(std::vector<Pending>& batch, bool force_checkpoint);
  Status AppendLocked(AuditEvent& event);
  Status CheckpointLocked(bool force);
  Status SealLocked();
  void SealCommitted(bool committed);
  Status WriteAnchor(const SignedCheckpoint& c);

  std::unique_ptr<storage::Database> db_;
  std::atomic<bool> commit_failing_{false};
  std::shared_ptr<const crypto::SigningKey> key_;
  std::shared_ptr<const common::Clock> clock_;
  AuditLogOptions options_;
  int lock_fd_ = -1;
  std::mutex anchor_mu_;
  uint64_t anchor_size_ = 0;
  bool anchor_failing_ = false;  // committer thread only: the last anchor write failed
  VerifyReport startup_report_;

  // Database and tree state (held by the committer during a batch).
  mutable std::mutex db_mu_;
  std::unique_ptr<State> state_;

  // Queue.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::condition_variable done_cv_;
  std::deque<Pending> queue_;
  uint64_t enqueued_ = 0;
  uint64_t completed_ = 0;
  bool stopping_ = false;
  std::thread committer_;
};

}  // namespace mash::audit
