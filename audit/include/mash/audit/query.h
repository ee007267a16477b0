// Reading the audit log: filtered queries (IG search, subject access requests) and the
// streamed export (docs/audit-format.md §Export).
//
// Thread safety: functions; the Database belongs to the calling thread for the call.
#pragma once

#include <cstdint>
#include <functional>
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
  uint64_t limit = 10000;
};

// Events matching every given filter, in sequence order, at most `limit`.
Result<std::vector<AuditEvent>> QueryEvents(storage::Database& db, const QueryFilter& filter);

// The CSV header and one row per event (RFC 4180 quoting).
std::string CsvHeader();
std::string CsvRow(const AuditEvent& e);

// Streams the whole log as JSON lines: a header, every checkpoint, then one line per entry
// (events, and leaf hashes of entries removed by retention). Returns the number of entries.
Result<uint64_t> ExportLog(storage::Database& db, std::ostream& out);

}  // namespace mash::audit
