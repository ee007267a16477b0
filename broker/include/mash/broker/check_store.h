// The hub's checks, kept in the broker's SQLCipher database (DESIGN §§4, 9) so that they outlive
// a restart: one row per check with the columns the workflow selects on (team, state, dates) and
// the whole check as a JSON document.
//
// Retention (DESIGN §4 step 7): Purge() clears a check's document (subject, household, answers,
// justification, rationale) and keeps a tombstone (id, team, who raised it, dates, state
// "purged"), so that an IG officer who follows a check_ref from the audit trail finds when and
// why its contents went. The database runs with secure_delete, so purged contents are
// overwritten rather than left in free pages.
//
// Thread safety: one thread (the broker's io thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::broker {

struct StoredCheck {
  std::string id;
  std::string team;
  std::string raised_by;
  std::string state;         // the overall state as shown, or "purged"
  int64_t raised_at_ms = 0;  // Unix milliseconds
  int64_t closed_at_ms = 0;  // 0 while the check is open
  int64_t purged_at_ms = 0;  // 0 until purged
  std::string document;      // JSON; empty once purged
};

class CheckStore {
 public:
  // Opens (creating the table when missing). Errors as storage::Database::Open.
  static Result<std::unique_ptr<CheckStore>> Open(const storage::DatabaseOptions& options);

  // Inserts or replaces the row of `check.id`. ResourceExhausted when the disk is full,
  // Unavailable or Internal otherwise; the previous row is then unchanged.
  Status Put(const StoredCheck& check);
  // Puts every row of `checks` in one transaction (one sync to disk): all or none.
  Status PutAll(const std::vector<StoredCheck>& checks);
  // Every check not purged, oldest first.
  Result<std::vector<StoredCheck>> LoadUnpurged();
  // The row of `id` (purged or not), or nullopt.
  Result<std::optional<StoredCheck>> Get(const std::string& id);
  // Ids of the checks closed at or before `closed_before_ms` and not yet purged, oldest first.
  Result<std::vector<std::string>> DueForPurge(int64_t closed_before_ms);
  // Clears the document of `id` and marks it purged at `now_ms`. NotFound when there is no such
  // row; purging twice is a no-op.
  Status Purge(const std::string& id, int64_t now_ms);

 private:
  explicit CheckStore(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}
  static StoredCheck Row(const storage::Statement& s);
  std::unique_ptr<storage::Database> db_;
};

}  // namespace mash::broker
