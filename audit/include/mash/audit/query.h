// Reading the audit log: filtered queries (IG search, subject access requests) and the
// streamed export (docs/audit-format.md §Export).
//
// Thread safety: functions; the Database belongs to the calling thread for the call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mash/audit/event.h"
#include "mash/storage/database.h"

namespace mash::audit {

struct QueryFilter {
  std::optional<std::string> subject;  // pseudonym "ps1:..."
  std::optional<std::string> person;
  std::optional<std::string> agency;
  std::optional<std::string> purpose;
  std::optional<std::string> lawful_basis;
  std::optional<EventType> type;
  std::optional<Outcome> outcome;
  std::optional<int64_t> from_ms;  // inclusive
  std::optional<int64_t> to_ms;    // exclusive
  // Paging by sequence number, both exclusive: the next page after the last seq shown
  // (after_seq), or, newest first, before the last seq shown (before_seq).
  std::optional<uint64_t> after_seq;
  std::optional<uint64_t> before_seq;
  bool newest_first = false;
  uint64_t limit = 10000;
};

// Events matching every given filter, in sequence order (descending when newest_first), at most
// `limit`.
Result<std::vector<AuditEvent>> QueryEvents(storage::Database& db, const QueryFilter& filter);
// How many events match every given filter (limit and order ignored).
Result<uint64_t> CountEvents(storage::Database& db, const QueryFilter& filter);

// The export of ExportLog, produced piece by piece: each Next() call appends whole lines to
// `out` until it holds at least `min_bytes` (or the export ends). The cursor holds one read
// transaction on `db` from Start() to its end or destruction, so the pieces together are one
// snapshot, byte for byte what ExportLog writes.
//
// Thread safety: one thread at a time, with the Database (which must outlive the cursor).
class ExportCursor {
 public:
  // Begins the read transaction and reads the header. NotFound without an audit log.
  static Result<std::unique_ptr<ExportCursor>> Start(storage::Database& db);
  ~ExportCursor();
  ExportCursor(const ExportCursor&) = delete;
  ExportCursor& operator=(const ExportCursor&) = delete;

  // Appends the next lines to `out`; false once the export has ended (nothing appended).
  Result<bool> Next(std::string& out, size_t min_bytes);
  // Entries (events and purged leaves) written so far.
  uint64_t entries() const { return entries_; }

 private:
  enum class Stage { kHeader, kCheckpoints, kSeal, kPurged, kEvents, kDone };
  explicit ExportCursor(storage::Database& db) : db_(db) {}
  Status Open(Stage stage);
  void End();

  storage::Database& db_;
  Stage stage_ = Stage::kHeader;
  std::optional<storage::Statement> stmt_;
  std::string origin_;
  uint64_t entries_ = 0;
  bool in_transaction_ = false;
};

// The CSV header and one row per event (RFC 4180 quoting).
std::string CsvHeader();
std::string CsvRow(const AuditEvent& e);

// Streams the whole log as JSON lines: a header, every checkpoint, then one line per entry
// (events, and leaf hashes of entries removed by retention). Returns the number of entries.
Result<uint64_t> ExportLog(storage::Database& db, std::ostream& out);

}  // namespace mash::audit
