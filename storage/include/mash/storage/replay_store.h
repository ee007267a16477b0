// Durable replay protection and outbound sequence numbers, kept in SQLCipher so that they survive
// restarts (DESIGN §5).
//
// Thread safety: none; use from the strand that owns the Database.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "mash/crypto/envelope.h"
#include "mash/storage/database.h"

namespace mash::storage {

// crypto::ReplayGuard over tables replay_ids(sender, id, keep_until) and
// replay_seq(sender, last_sequence). CheckAndRecord is one transaction.
class SqlReplayStore final : public crypto::ReplayGuard {
 public:
  // Creates the tables when needed. `db` must outlive the store.
  static Result<std::unique_ptr<SqlReplayStore>> Create(Database* db);

  Status CheckAndRecord(const std::string& sender, const std::string& id, uint64_t sequence,
                        int64_t keep_until) override;

  // Group commit. CheckAndQueue checks as CheckAndRecord does (against the stored ids and
  // sequences and those queued) and queues the record in memory; CommitQueued writes every
  // queued record in one transaction (one sync) and empties the queue. A message accepted by
  // CheckAndQueue must not be acted upon until CommitQueued returned OK; on its error (Unavailable)
  // nothing queued was stored and every message queued must be refused (fail closed).
  Status CheckAndQueue(const std::string& sender, const std::string& id, uint64_t sequence,
                       int64_t keep_until);
  Status CommitQueued();
  // As CommitQueued inside the caller's transaction (the caller commits it, or rolls it back and
  // refuses the queued messages): the queue is emptied either way.
  Status WriteQueued();
  size_t queued() const { return queued_ids_.size(); }
  // Deletes ids whose keep_until is before `now`; returns how many.
  Result<int64_t> Purge(int64_t now);

 private:
  explicit SqlReplayStore(Database* db) : db_(db) {}
  // The checks of CheckAndRecord on what is stored and queued: OK, AlreadyExists, or a storage
  // error (Unavailable).
  Status Check(const std::string& sender, const std::string& id, int64_t sequence);
  Database* db_;
  std::map<std::pair<std::string, std::string>, int64_t> queued_ids_;  // -> keep_until
  std::map<std::string, int64_t> queued_seq_;                          // sender -> last
};

// A crypto::ReplayGuard whose records go to `store`'s queue (SqlReplayStore::CheckAndQueue):
// for crypto::Open on a path that commits the queue before acting on what it opened.
class QueuedReplayGuard final : public crypto::ReplayGuard {
 public:
  explicit QueuedReplayGuard(SqlReplayStore& store) : store_(store) {}
  Status CheckAndRecord(const std::string& sender, const std::string& id, uint64_t sequence,
                        int64_t keep_until) override {
    return store_.CheckAndQueue(sender, id, sequence, keep_until);
  }

 private:
  SqlReplayStore& store_;
};

// Outbound per-sender sequence numbers, strictly increasing across restarts. Reserves blocks of
// kBlock numbers durably (one write per block, not per message); after a crash the unused rest of
// a block is skipped, never reused.
class SequenceCounter {
 public:
  static constexpr uint64_t kBlock = 1024;
  static Result<std::unique_ptr<SequenceCounter>> Create(Database* db, std::string stream);
  Result<uint64_t> Next();

 private:
  SequenceCounter(Database* db, std::string stream) : db_(db), stream_(std::move(stream)) {}
  Database* db_;
  std::string stream_;
  uint64_t next_ = 0;
  uint64_t limit_ = 0;  // first number not yet reserved durably
};

}  // namespace mash::storage
