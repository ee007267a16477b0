// The broker's read side of its audit log (DESIGN §§2, 8): what an IG officer or a DPO does with
// the trail in the console - search it, open one event, verify a range, export it whole (row
// count first, then streamed), and produce the per-subject disclosure report of a subject access
// request.
//
// The reader has its own connection to the audit SQLCipher database, opened read-only
// (PRAGMA query_only) with the log's key; the AuditLog's committer owns the writing connection
// and WAL lets both work at once. Every read runs on the reader's own worker thread, never on
// the caller's; results come back through `post` (the broker's io_context). At most
// max_waiting requests wait or run at once; more fail with ResourceExhausted.
//
// Only the roles ig_officer and dpo may read the trail: anyone else gets PermissionDenied, and
// the refusal is a request_refused event. Every read by a person is itself recorded before its
// result is handed back (fail closed: Unavailable when the event cannot be committed):
//   search, event view, count, verify, subject report  result_viewed, detail "audit: <what>"
//                                                      (and the subject's pseudonym when the
//                                                      read was about one subject)
//   export                                             exported, committed before the first byte
//                                                      (so the export holds its own record)
//
// Thread safety: none; every member function runs on the io thread (the one `post` posts to),
// and so do the callbacks. Destroy the reader on that thread; callbacks still queued then are
// dropped (or find it gone and do nothing). An ExportStream may outlive the reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/audit/query.h"
#include "mash/audit/sink.h"
#include "mash/audit/verify.h"
#include "mash/broker/staff.h"
#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/pseudonym.h"
#include "mash/storage/database.h"

namespace boost::asio {
class thread_pool;
}

namespace mash::broker {

struct AuditReaderOptions {
  storage::DatabaseOptions database;  // the audit database and its key file
  std::string origin;                 // the log's origin (the hub id)
  size_t page_size = 200;             // events per search page
  size_t max_waiting = 4;             // requests queued or running at once
  size_t max_exports = 2;             // export streams open at once
  size_t export_chunk_bytes = 64 * 1024;
  size_t max_report_events = 20000;  // events in one subject report
};

// The identifier kinds a subject can be looked up by (as CheckService pseudonymises them):
// nhs_number, pnc_id, upn, ni_number, and name_dob ("FAMILY GIVEN YYYY-MM-DD").
const std::vector<std::string>& SubjectIdentifierKinds();

struct AuditSearchPage {
  std::vector<audit::AuditEvent> events;  // newest first
  bool more = false;                      // older events match: ask again with before_seq
};

struct AuditEventDetail {
  audit::AuditEvent event;
  common::Bytes leaf_hash;  // the entry hash (32 bytes)
  common::Bytes chain;      // the chain value after the entry
  // The newest signed checkpoint covering the entry, with the entry's audit path in it, checked
  // here against its signed root (nullopt while no checkpoint covers it yet).
  std::optional<audit::SignedCheckpoint> checkpoint;
  std::vector<audit::Hash> inclusion_proof;
  bool inclusion_verified = false;
};

struct AuditCount {
  uint64_t matching = 0;     // events matching the filter
  uint64_t log_entries = 0;  // entries of a whole export (events and purged leaves)
  uint64_t checkpoints = 0;
};

// The range verification asked for and its report (audit::VerifyRange, or audit::VerifyLog of
// the whole log when no range was given).
struct AuditVerifyResult {
  bool whole_log = false;
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive, clipped to the log's end
  audit::VerifyReport report;
};

// The whole log as JSON lines (audit::ExportLog's bytes), one piece at a time. Each Next() reads
// the next piece on the reader's worker thread and calls `done` on the io thread with it, or
// with nullopt at the end. One Next() at a time. The stream holds its own connection and read
// transaction until it ends or is destroyed.
class ExportStream {
 public:
  using Chunk = std::function<void(Result<std::optional<std::string>>)>;
  virtual ~ExportStream() = default;
  virtual void Next(Chunk done) = 0;
  // Sequence number of the committed `exported` event recording this export.
  virtual uint64_t recorded_seq() const = 0;
};

class AuditReader {
 public:
  using Post = std::function<void(std::function<void()>)>;
  template <typename T>
  using Done = std::function<void(Result<T>)>;

  // Opens the read connection (the database must exist), and makes the worker thread. `sink`
  // records the reads and `pseudonyms` makes subject pseudonyms; both must outlive the reader.
  // Errors: storage errors; InvalidArgument for options out of range.
  static Result<std::unique_ptr<AuditReader>> Create(
      AuditReaderOptions options, crypto::SigningPublicKey checkpoint_key, audit::AuditSink* sink,
      std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post);
  ~AuditReader();
  AuditReader(const AuditReader&) = delete;
  AuditReader& operator=(const AuditReader&) = delete;

  // The pseudonym of a subject identifier. InvalidArgument ("/kind" or "/value") for an unknown
  // kind or an empty or over-long value (the value is never in the message).
  Result<std::string> SubjectPseudonym(const std::string& kind, const std::string& value) const;

  // One page of the events matching `filter`, newest first (filter.before_seq pages on;
  // filter.limit and newest_first are set by the reader).
  void Search(const Staff& staff, audit::QueryFilter filter, Done<AuditSearchPage> done);
  // Event `seq` in full. NotFound when it is not in the log (or was removed by retention).
  void Event(const Staff& staff, uint64_t seq, Done<AuditEventDetail> done);
  // Verifies entries first..last (audit::VerifyRange), or the whole log when both are unset.
  // InvalidArgument for a bad range.
  void Verify(const Staff& staff, std::optional<uint64_t> first, std::optional<uint64_t> last,
              Done<AuditVerifyResult> done);
  // How many events match `filter`, and how many entries a whole export holds.
  void Count(const Staff& staff, const audit::QueryFilter& filter, Done<AuditCount> done);
  // Records the export (an `exported` event, committed first), then opens the stream. At most
  // max_exports streams are open at once (ResourceExhausted beyond).
  void Export(const Staff& staff, Done<std::shared_ptr<ExportStream>> done);
  // The disclosure report of one subject (a pseudonym "ps1:..."), as JSON: for each check about
  // the subject, who asked, when and why, what each agency disclosed or withheld and why, who
  // viewed it and the decision; then the other events naming the subject. docs/console.md
  // describes the fields.
  void SubjectReport(const Staff& staff, const std::string& pseudonym, Done<nlohmann::json> done);

  // Requests queued or running now.
  size_t in_flight() const { return in_flight_; }
  size_t page_size() const { return options_.page_size; }

 private:
  AuditReader(AuditReaderOptions options, crypto::SigningPublicKey key, audit::AuditSink* sink,
              std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post);

  // PermissionDenied (recorded as request_refused) unless ig_officer or dpo; ResourceExhausted
  // when max_waiting requests are in flight. Otherwise counts one more in flight.
  Status Admit(const Staff& staff, const std::string& what);
  // Runs `work` on the worker; then records `event_of(result)` (when the work succeeded) and,
  // once committed, calls `done` on the io thread.
  template <typename T>
  void Run(std::function<Result<T>(storage::Database&)> work,
           std::function<audit::AuditEvent(const T&)> event_of, Done<T> done);
  audit::AuditEvent ReadEvent(const Staff& staff, audit::EventType type,
                              const std::string& detail) const;

  AuditReaderOptions options_;
  crypto::SigningPublicKey key_;
  audit::AuditSink* sink_;
  std::shared_ptr<const crypto::Pseudonymiser> pseudonyms_;
  Post post_;
  std::unique_ptr<storage::Database> db_;  // used on the worker only
  std::unique_ptr<boost::asio::thread_pool> worker_;
  std::shared_ptr<bool> alive_;  // false once destroyed; checked by results posted back
  std::shared_ptr<std::atomic<size_t>> open_exports_;
  size_t in_flight_ = 0;
};

}  // namespace mash::broker
