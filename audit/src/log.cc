#include "mash/audit/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <future>
#include <system_error>

#include "mash/common/log.h"
#include "store.h"

namespace mash::audit {

struct AuditLog::State {
  uint64_t size = 0;
  Frontier frontier;
  Hash chain = ChainStart();
  std::optional<SignedCheckpoint> latest;
  // The seal of the committed end, and the one written by the transaction in progress.
  std::optional<SignedCheckpoint> seal, seal_pending;
  common::TimePoint latest_time{};
  uint64_t retained_from = 0;
  std::unique_ptr<internal::StoreNodeReader> nodes;
  std::optional<storage::Statement> insert_event, insert_subject, insert_node, insert_checkpoint;
  std::vector<Frontier::NewNode> scratch;
};

namespace {

int64_t UnixMs(common::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Result<storage::Statement> PrepareOnce(storage::Database& db, std::string_view sql) {
  return db.Prepare(sql);
}

}  // namespace

AuditLog::AuditLog(std::unique_ptr<storage::Database> db,
                   std::shared_ptr<const crypto::SigningKey> key,
                   std::shared_ptr<const common::Clock> clock, AuditLogOptions options)
    : db_(std::move(db)),
      key_(std::move(key)),
      clock_(std::move(clock)),
      options_(std::move(options)),
      state_(std::make_unique<State>()) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(std::unique_ptr<storage::Database> db,
                                                 std::shared_ptr<const crypto::SigningKey> key,
                                                 std::shared_ptr<const common::Clock> clock,
                                                 AuditLogOptions options) {
  if (!db || !key || !clock) return InvalidArgument("audit log needs a database, key and clock");
  if (!ValidOrigin(options.origin)) return InvalidArgument("audit log origin is invalid");
  if (options.checkpoint_every_events == 0 || options.max_batch == 0) {
    return InvalidArgument("audit log batch and checkpoint sizes must be positive");
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(std::move(db), std::move(key), std::move(clock), std::move(options)));
  MASH_RETURN_IF_ERROR(log->Init());
  log->committer_ = std::thread([raw = log.get()] { raw->Run(); });
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  // Statements before the database.
  state_.reset();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status AuditLog::Init() {
  // One writer per database: the in-memory frontier would go stale under a second one.
  const std::string lock_path = db_->file().string() + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return Unavailable("cannot open audit lock file: " + std::generic_category().message(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return FailedPrecondition("the audit log is open in another process or object");
  }

  MASH_RETURN_IF_ERROR(db_->Exec(internal::kCachePragmas));
  MASH_RETURN_IF_ERROR(internal::EnsureSchema(*db_));
  MASH_ASSIGN_OR_RETURN(auto origin, internal::GetMeta(*db_, "origin"));
  if (!origin) {
    MASH_RETURN_IF_ERROR(internal::SetMeta(*db_, "origin", options_.origin));
  } else if (*origin != options_.origin) {
    return FailedPrecondition("audit log origin is '" + *origin + "', not the configured one");
  }

  const crypto::SigningPublicKey& pub = key_->Public();
  if (options_.verify_on_open) {
    VerifyOptions vo;
    vo.origin = options_.origin;
    vo.trusted = options_.trusted;
    if (!options_.full_verify_on_open) {
      MASH_ASSIGN_OR_RETURN(auto verified, internal::GetMeta(*db_, "verified_checkpoint"));
      if (verified) {
        auto c = ParseAndVerifyCheckpoint(*verified, pub);
        if (!c.ok()) return DataLoss("start-up check: stored verified checkpoint is invalid");
        vo.resume_from = *c;
      }
    }
    if (options_.anchor_file) {
      std::ifstream in(*options_.anchor_file, std::ios::binary);
      if (in) {
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto c = ParseAndVerifyCheckpoint(text, pub);
        if (!c.ok()) return DataLoss("start-up check: anchor checkpoint is invalid");
        vo.trusted.push_back(*c);
      }
    }
    MASH_ASSIGN_OR_RETURN(startup_report_, VerifyLog(*db_, pub, vo));
    if (!startup_report_.ok) {
      std::string where =
          startup_report_.first_bad_seq
              ? " (first bad entry " + std::to_string(*startup_report_.first_bad_seq) + ")"
              : "";
      common::LogError("audit.startup_check.failed", {{"problem", startup_report_.problem}});
      return DataLoss("audit log start-up check failed: " + startup_report_.problem + where);
    }
  }

  State& st = *state_;
  st.latest_time = clock_->Now();
  st.nodes = std::make_unique<internal::StoreNodeReader>(*db_);
  {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("SELECT max(seq) FROM (SELECT max(seq) AS seq FROM audit_events UNION ALL "
                     "SELECT max(seq) FROM audit_purged)"));
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    st.size = (row && !s.ColumnIsNull(0)) ? static_cast<uint64_t>(s.ColumnInt(0)) + 1 : 0;
  }
  MASH_ASSIGN_OR_RETURN(st.frontier, Frontier::Load(*st.nodes, st.size));
  if (st.size > 0) {
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db_->Prepare("SELECT chain FROM audit_events WHERE seq = ?1 UNION ALL "
                                       "SELECT chain FROM audit_purged WHERE seq = ?1"));
    s.Bind(1, static_cast<int64_t>(st.size - 1));
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    auto chain = row ? HashFromBytes(s.ColumnBlob(0)) : std::nullopt;
    if (!chain) return DataLoss("audit log: chain head missing");
    st.chain = *chain;
  }
  {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("SELECT text FROM audit_checkpoints ORDER BY id DESC LIMIT 1"));
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      auto c = ParseAndVerifyCheckpoint(s.ColumnText(0), pub);
      if (!c.ok()) return DataLoss("audit log: newest checkpoint does not verify");
      st.latest = *c;
      st.latest_time = clock_->Now();
      st.retained_from = c->checkpoint.retained_from;
    }
  }
  {
    MASH_ASSIGN_OR_RETURN(auto seal, internal::GetMeta(*db_, "seal"));
    if (seal) {
      auto c = ParseAndVerifyCheckpoint(*seal, pub);
      if (!c.ok()) return DataLoss("audit log: the seal does not verify");
      st.seal = *c;
    }
  }
  MASH_ASSIGN_OR_RETURN(st.insert_event,
                        PrepareOnce(*db_,
                                    "INSERT INTO audit_events(seq, time_ms, type, outcome, person, "
                                    "agency, purpose, lawful_basis, encoded, leaf_hash, chain) "
                                    "VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
  MASH_ASSIGN_OR_RETURN(
      st.insert_subject,
      PrepareOnce(*db_, "INSERT OR IGNORE INTO audit_subjects(skey, seq) VALUES(?, ?)"));
  MASH_ASSIGN_OR_RETURN(
      st.insert_node,
      PrepareOnce(*db_, "INSERT INTO audit_nodes(level, idx, hash) VALUES(?, ?, ?)"));
  MASH_ASSIGN_OR_RETURN(
      st.insert_checkpoint,
      PrepareOnce(*db_, "INSERT INTO audit_checkpoints(size, time_ms, text) VALUES(?, ?, ?)"));

  if (options_.verify_on_open && startup_report_.latest) {
    MASH_RETURN_IF_ERROR(
        internal::SetMeta(*db_, "verified_checkpoint", startup_report_.latest->text));
  }
  // Events committed after the last checkpoint (a crash between them) get signed now.
  if (st.size > 0 && (!st.latest || st.latest->checkpoint.size < st.size)) {
    Status signed_tail = db_->InTransaction([&]() -> Status {
      MASH_RETURN_IF_ERROR(CheckpointLocked(true));
      return SealLocked();
    });
    SealCommitted(signed_tail.ok());
    MASH_RETURN_IF_ERROR(signed_tail);
    MASH_RETURN_IF_ERROR(WriteAnchor(*st.latest));
  }
  return Status::Ok();
}

Status AuditLog::WriteAnchor(const SignedCheckpoint& c) {
  if (!options_.anchor_file) return Status::Ok();
  // The committer and Checkpoint()/Purge() callers may race here: one writer at a time, and
  // never replace a newer anchor with an older one.
  std::lock_guard lock(anchor_mu_);
  if (c.checkpoint.size < anchor_size_) return Status::Ok();
  anchor_size_ = c.checkpoint.size;
  const std::filesystem::path tmp = options_.anchor_file->string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot write audit anchor file");
  const char* p = c.text.data();
  size_t left = c.text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSPC || errno == EDQUOT) storage::NoteDiskFull(tmp.string());
      ::close(fd);
      return Unavailable("cannot write audit anchor file");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Unavailable("cannot sync audit anchor file");
  }
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(tmp, *options_.anchor_file, ec);
  if (ec) return Unavailable("cannot replace audit anchor file");
  storage::NoteWriteSucceeded(tmp.string());
  return Status::Ok();
}

Status AuditLog::AppendLocked(AuditEvent& event) {
  State& st = *state_;
  event.seq = st.size;
  event.time_ms = UnixMs(clock_->Now());
  MASH_ASSIGN_OR_RETURN(Bytes encoded, EncodeValidatedEvent(event));
  const Hash leaf = HashLeaf(encoded);
  const Hash chain = ChainNext(st.chain, leaf);
  storage::Statement& ins = *st.insert_event;
  ins.Reset();
  ins.Bind(1, static_cast<int64_t>(event.seq))
      .Bind(2, event.time_ms)
      .Bind(3, EventTypeName(event.type))
      .Bind(4, OutcomeName(event.outcome))
      .Bind(5, event.person)
      .Bind(6, event.agency)
      .Bind(7, event.purpose)
      .Bind(8, event.lawful_basis)
      .BindBlob(9, encoded)
      .BindBlob(10, leaf)
      .BindBlob(11, chain);
  MASH_RETURN_IF_ERROR(ins.Run());
  for (const std::string& subject : event.subjects) {
    storage::Statement& s = *st.insert_subject;
    s.Reset();
    s.Bind(1, internal::SubjectKey(subject)).Bind(2, static_cast<int64_t>(event.seq));
    MASH_RETURN_IF_ERROR(s.Run());
  }
  st.scratch.clear();
  st.frontier.Append(leaf, &st.scratch);
  for (const auto& node : st.scratch) {
    storage::Statement& s = *st.insert_node;
    s.Reset();
    s.Bind(1, static_cast<int64_t>(node.level))
        .Bind(2, static_cast<int64_t>(node.index))
        .BindBlob(3, node.hash);
    MASH_RETURN_IF_ERROR(s.Run());
  }
  st.chain = chain;
  ++st.size;
  return Status::Ok();
}

Status AuditLog::CheckpointLocked(bool force) {
  State& st = *state_;
  const uint64_t signed_size = st.latest ? st.latest->checkpoint.size : 0;
  if (st.size == 0) return Status::Ok();
  if (!force && st.size == signed_size) return Status::Ok();
  audit::Checkpoint c;
  c.origin = options_.origin;
  c.size = st.size;
  c.root = st.frontier.Root();
  c.chain = st.chain;
  c.time_ms = UnixMs(clock_->Now());
  if (st.latest && c.time_ms < st.latest->checkpoint.time_ms) {
    c.time_ms = st.latest->checkpoint.time_ms;  // a clock stepped back; keep times monotonic
  }
  c.retained_from = st.retained_from;
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint sc, SignCheckpoint(c, *key_));
  storage::Statement& ins = *st.insert_checkpoint;
  ins.Reset();
  ins.Bind(1, static_cast<int64_t>(c.size)).Bind(2, c.time_ms).Bind(3, sc.text);
  MASH_RETURN_IF_ERROR(ins.Run());
  st.latest = std::move(sc);
  st.latest_time = clock_->Now();
  return Status::Ok();
}

Status AuditLog::SealLocked() {
  // Every commit ends with a signed statement of the log's exact end (size, root, chain): rows
  // appended or removed at the end by someone without the key no longer match it.
  State& st = *state_;
  if (st.size == 0) return Status::Ok();
  audit::Checkpoint c;
  c.origin = options_.origin;
  c.size = st.size;
  c.root = st.frontier.Root();
  c.chain = st.chain;
  c.time_ms = UnixMs(clock_->Now());
  c.retained_from = st.retained_from;
  if (st.seal && c.time_ms < st.seal->checkpoint.time_ms) c.time_ms = st.seal->checkpoint.time_ms;
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint sc, SignCheckpoint(c, *key_));
  MASH_RETURN_IF_ERROR(internal::SetMeta(*db_, "seal", sc.text));
  st.seal_pending = std::move(sc);
  return Status::Ok();
}

void AuditLog::SealCommitted(bool committed) {
  State& st = *state_;
  if (committed && st.seal_pending) st.seal = std::move(st.seal_pending);
  st.seal_pending.reset();
}

void AuditLog::CommitBatch(std::vector<Pending>& batch, bool force_checkpoint) {
  std::vector<Result<uint64_t>> results;
  results.reserve(batch.size());
  std::optional<SignedCheckpoint> new_checkpoint;
  {
    std::lock_guard lock(db_mu_);
    State& st = *state_;
    const uint64_t old_size = st.size;
    const Frontier old_frontier = st.frontier;
    const Hash old_chain = st.chain;
    const std::optional<SignedCheckpoint> old_latest = st.latest;
    const common::TimePoint old_latest_time = st.latest_time;

    // Every queued event passed ValidateEvent in Append.
    std::vector<bool> valid(batch.size(), true);
    for (size_t i = 0; i < batch.size(); ++i) results.emplace_back(uint64_t{0});
    const uint64_t signed_size = st.latest ? st.latest->checkpoint.size : 0;
    const bool any = std::find(valid.begin(), valid.end(), true) != valid.end();
    const bool time_due = st.size + (any ? 1 : 0) > signed_size &&
                          clock_->Now() - st.latest_time >= options_.checkpoint_every;
    if (any || force_checkpoint || time_due) {
      Status s = db_->Begin();
      for (size_t i = 0; s.ok() && i < batch.size(); ++i) {
        if (!valid[i]) continue;
        s = AppendLocked(batch[i].event);
        if (s.ok()) results[i] = batch[i].event.seq;
      }
      if (s.ok()) {
        const uint64_t since = st.size - (st.latest ? st.latest->checkpoint.size : 0);
        if (force_checkpoint || since >= options_.checkpoint_every_events ||
            (since > 0 && clock_->Now() - st.latest_time >= options_.checkpoint_every)) {
          s = CheckpointLocked(false);
          if (s.ok() && st.latest != old_latest) new_checkpoint = st.latest;
        }
      }
      if (s.ok()) s = SealLocked();
      if (s.ok()) s = db_->Commit();
      SealCommitted(s.ok());
      commit_failing_.store(!s.ok(), std::memory_order_relaxed);
      if (options_.on_commit) {
        options_.on_commit(std::count(valid.begin(), valid.end(), true), s.ok());
      }
      if (!s.ok()) {
        (void)db_->Rollback();
        st.size = old_size;
        st.frontier = old_frontier;
        st.chain = old_chain;
        st.latest = old_latest;
        st.latest_time = old_latest_time;
        new_checkpoint.reset();
        common::LogError("audit.commit.failed", {{"error", s.ToString()}});
        for (size_t i = 0; i < batch.size(); ++i) {
          if (valid[i]) results[i] = s.WithContext("audit event not committed");
        }
      }
    }
  }
  if (new_checkpoint) {
    // Logged when it starts failing and when it works again, not on every commit in between.
    Status a = WriteAnchor(*new_checkpoint);
    if (!a.ok() && !anchor_failing_) {
      common::LogError("audit.anchor.failed", {{"error", a.ToString()}});
    } else if (a.ok() && anchor_failing_) {
      common::LogInfo("audit.anchor.written", {});
    }
    anchor_failing_ = !a.ok();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].done) batch[i].done(std::move(results[i]));
  }
}

void AuditLog::Run() {
  std::unique_lock lock(q_mu_);
  for (;;) {
    q_cv_.wait_for(lock, options_.checkpoint_every, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) break;
    std::vector<Pending> batch;
    const size_t n = std::min(queue_.size(), options_.max_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    CommitBatch(batch, false);  // also signs a time-based checkpoint when due
    lock.lock();
    completed_ += n;
    done_cv_.notify_all();
  }
}

void AuditLog::Append(AuditEvent event, Callback done) {
  // Validation runs here, on the caller's thread, so that the committer only encodes and writes.
  Status valid = ValidateEvent(event);
  if (!valid.ok()) {
    if (done) done(valid);
    return;
  }
  std::unique_lock lock(q_mu_);
  if (stopping_) {
    lock.unlock();
    if (done) done(Unavailable("audit log is closing"));
    return;
  }
  if (queue_.size() >= options_.max_queue) {
    lock.unlock();
    if (done) done(ResourceExhausted("audit queue full"));
    return;
  }
  queue_.push_back({std::move(event), std::move(done)});
  ++enqueued_;
  lock.unlock();
  q_cv_.notify_one();
}

Result<uint64_t> AuditLog::AppendAndWait(AuditEvent event) {
  auto promise = std::make_shared<std::promise<Result<uint64_t>>>();
  auto future = promise->get_future();
  Append(std::move(event), [promise](Result<uint64_t> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void AuditLog::Flush() {
  std::unique_lock lock(q_mu_);
  const uint64_t target = enqueued_;
  done_cv_.wait(lock, [&] { return completed_ >= target; });
}

Result<SignedCheckpoint> AuditLog::Checkpoint() {
  std::optional<SignedCheckpoint> made;
  {
    std::lock_guard lock(db_mu_);
    State& st = *state_;
    if (st.size == 0) return FailedPrecondition("the audit log is empty");
    if (st.latest && st.latest->checkpoint.size == st.size) return *st.latest;
    const auto old_latest = st.latest;
    Status s = db_->InTransaction([&]() -> Status {
      MASH_RETURN_IF_ERROR(CheckpointLocked(false));
      return SealLocked();
    });
    SealCommitted(s.ok());
    if (!s.ok()) {
      st.latest = old_latest;
      return s;
    }
    made = st.latest;
  }
  MASH_RETURN_IF_ERROR(WriteAnchor(*made));
  return *made;
}

std::optional<SignedCheckpoint> AuditLog::LatestSeal() const {
  std::lock_guard lock(db_mu_);
  return state_->seal;
}

Result<Bytes> AuditLog::EncodedEvent(uint64_t seq) const {
  std::lock_guard lock(db_mu_);
  if (seq >= state_->size) return NotFound("no committed event with that number");
  MASH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT encoded FROM audit_events WHERE seq = ?"));
  stmt.Bind(1, static_cast<int64_t>(seq));
  MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return NotFound("event removed by retention");
  return stmt.ColumnBlob(0);
}

uint64_t AuditLog::Size() const {
  std::lock_guard lock(db_mu_);
  return state_->size;
}

std::optional<SignedCheckpoint> AuditLog::LatestCheckpoint() const {
  std::lock_guard lock(db_mu_);
  return state_->latest;
}

Result<std::vector<Hash>> AuditLog::InclusionProof(uint64_t seq, uint64_t tree_size) const {
  std::lock_guard lock(db_mu_);
  if (tree_size > state_->size) return InvalidArgument("tree size beyond the log");
  return audit::InclusionProof(*state_->nodes, seq, tree_size);
}

Result<std::vector<Hash>> AuditLog::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  std::lock_guard lock(db_mu_);
  if (new_size > state_->size) return InvalidArgument("tree size beyond the log");
  return audit::ConsistencyProof(*state_->nodes, old_size, new_size);
}

Result<Receipt> AuditLog::MakeReceipt(uint64_t seq, uint64_t held_size) {
  std::optional<SignedCheckpoint> cp;
  {
    std::lock_guard lock(db_mu_);
    if (seq >= state_->size) return InvalidArgument("no committed event with that number");
    // The seal of the last commit is a signed checkpoint that covers every committed event, so a
    // receipt never waits for another transaction.
    cp = state_->seal;
  }
  if (!cp || cp->checkpoint.size <= seq) {
    MASH_ASSIGN_OR_RETURN(SignedCheckpoint made, Checkpoint());
    cp = std::move(made);
  }
  std::lock_guard lock(db_mu_);
  const audit::Checkpoint& c = cp->checkpoint;
  if (held_size > c.size) {
    return FailedPrecondition("the agent holds a newer checkpoint than the log");
  }
  Receipt r;
  r.seq = seq;
  MASH_ASSIGN_OR_RETURN(r.leaf_hash, state_->nodes->Node(0, seq));
  MASH_ASSIGN_OR_RETURN(r.inclusion, audit::InclusionProof(*state_->nodes, seq, c.size));
  // Never hand out a proof that does not verify: a stored node was changed.
  if (!VerifyInclusion(seq, c.size, r.leaf_hash, r.inclusion, c.root).ok()) {
    return DataLoss("audit log: stored tree nodes do not match the signed root");
  }
  r.checkpoint = cp->text;
  if (held_size > 0 && held_size < c.size) {
    ConsistencyFrom from;
    from.from = held_size;
    MASH_ASSIGN_OR_RETURN(from.proof, audit::ConsistencyProof(*state_->nodes, held_size, c.size));
    r.consistency = std::move(from);
  }
  return r;
}

Result<uint64_t> AuditLog::PurgeExpired() {
  if (!options_.retention) return uint64_t{0};
  return Purge(clock_->Now() - *options_.retention);
}

Result<uint64_t> AuditLog::Purge(common::TimePoint cutoff) {
  std::optional<SignedCheckpoint> made;
  uint64_t removed = 0;
  {
    std::lock_guard lock(db_mu_);
    State& st = *state_;
    uint64_t first_kept = st.size;
    {
      MASH_ASSIGN_OR_RETURN(storage::Statement s,
                            db_->Prepare("SELECT min(seq) FROM audit_events WHERE time_ms >= ?"));
      s.Bind(1, UnixMs(cutoff));
      MASH_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row && !s.ColumnIsNull(0)) first_kept = static_cast<uint64_t>(s.ColumnInt(0));
    }
    if (first_kept <= st.retained_from) return uint64_t{0};
    removed = first_kept - st.retained_from;
    const uint64_t old_size = st.size;
    const Frontier old_frontier = st.frontier;
    const Hash old_chain = st.chain;
    const auto old_latest = st.latest;
    const uint64_t old_retained = st.retained_from;
    Status s = db_->InTransaction([&]() -> Status {
      for (const char* sql :
           {"INSERT INTO audit_purged(seq, leaf_hash, chain) SELECT seq, leaf_hash, chain FROM "
            "audit_events WHERE seq < ?",
            "DELETE FROM audit_subjects WHERE seq < ?", "DELETE FROM audit_events WHERE seq < ?"}) {
        MASH_ASSIGN_OR_RETURN(storage::Statement stmt, db_->Prepare(sql));
        stmt.Bind(1, static_cast<int64_t>(first_kept));
        MASH_RETURN_IF_ERROR(stmt.Run());
      }
      st.retained_from = first_kept;
      AuditEvent e;
      e.type = EventType::kRetentionPurge;
      e.outcome = Outcome::kOk;
      e.person = "retention";
      e.role = "system";
      e.organisation = "hub";
      e.detail =
          "removed " + std::to_string(removed) + " events before seq " + std::to_string(first_kept);
      MASH_RETURN_IF_ERROR(AppendLocked(e));
      MASH_RETURN_IF_ERROR(CheckpointLocked(true));
      return SealLocked();
    });
    SealCommitted(s.ok());
    if (!s.ok()) {
      st.size = old_size;
      st.frontier = old_frontier;
      st.chain = old_chain;
      st.latest = old_latest;
      st.retained_from = old_retained;
      return s;
    }
    made = st.latest;
  }
  MASH_RETURN_IF_ERROR(WriteAnchor(*made));
  common::LogInfo("audit.retention.purged", {{"removed", removed}});
  return removed;
}

}  // namespace mash::audit
