// Durable replay protection and outbound sequence numbers, kept in SQLCipher so that they survive
// restarts (DESIGN §5).
//
// Thread safety: none; use from the strand that owns the Database.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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
  // Deletes ids whose keep_until is before `now`; returns how many.
  Result<int64_t> Purge(int64_t now);

 private:
  explicit SqlReplayStore(Database* db) : db_(db) {}
  Database* db_;
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
