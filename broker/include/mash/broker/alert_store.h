// The IG alert queue's alerts, kept in the broker's SQLCipher database (the database of
// CheckStore, table hub_alert) so that they and their history outlive a restart. One row per
// alert: the columns the queue selects on (kind, status, dates, the check and the person it
// concerns) and its history of status changes as a JSON array.
//
// An alert holds nothing about a check's subject: its summary is written by the hub (counts,
// times, the override ground), and the notes of its history are the IG officer's.
//
// Thread safety: one thread (the broker's io thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::broker {

struct StoredAlert {
  std::string id;      // 32 hex digits, random
  std::string kind;    // override | out_of_hours | unusual_volume
  std::string status;  // new | under_review | closed | escalated
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string check_id;  // empty when the alert concerns no one check
  std::string person;    // the member of staff it concerns (never a subject)
  std::string role;
  std::string team;
  std::string summary;  // a short line written by the hub, without personal data
  std::string detail;   // JSON object: what raised it (the measure and count, the action)
  std::string history;  // JSON array of {at, by, role, from, to, note}
};

class AlertStore {
 public:
  // Opens (creating the table when missing). Errors as storage::Database::Open.
  static Result<std::unique_ptr<AlertStore>> Open(const storage::DatabaseOptions& options);

  // Inserts or replaces the row of `alert.id`. ResourceExhausted when the disk is full,
  // Unavailable or Internal otherwise; the previous row is then unchanged.
  Status Put(const StoredAlert& alert);
  // Every alert, oldest first.
  Result<std::vector<StoredAlert>> LoadAll();

 private:
  explicit AlertStore(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<storage::Database> db_;
};

}  // namespace mash::broker
