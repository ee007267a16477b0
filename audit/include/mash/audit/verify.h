// Verification of a stored audit log or of an export, offline, with the checkpoint public key
// (docs/audit-format.md §Verification). Used by the start-up self-check and mashctl audit verify.
//
// For every entry from the start (or from a checkpoint verified earlier): the encoding decodes
// canonically and names its own sequence number; the stored leaf hash is HashLeaf(encoding); the
// stored chain is the running chain; the indexed columns match the encoding; the interior nodes
// stored for proofs match the recomputed tree; every checkpoint is signed by the key, has this
// log's origin and, when the tree reaches its size, its root and chain head; every trusted
// checkpoint (held by a witness or the anchor file) is consistent with the log.
// Entries removed by retention are accepted only below the retained-from of a signed checkpoint.
//
// Thread safety: functions; the Database belongs to the calling thread for the call.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "mash/audit/checkpoint.h"
#include "mash/crypto/keys.h"
#include "mash/storage/database.h"

namespace mash::audit {

struct VerifyOptions {
  // Only this log's checkpoints are accepted; empty accepts the origin of the first one.
  std::string origin;
  // A checkpoint verified earlier (e.g. at the previous start): entries before its size are not
  // re-read; the stored frontier and chain head must match it.
  std::optional<SignedCheckpoint> resume_from;
  // Checkpoints held elsewhere (witnesses, anchor file): the log must contain each one's tree.
  std::vector<SignedCheckpoint> trusted;
  bool check_nodes = true;
  // Treat events not yet covered by any checkpoint as a failure.
  bool require_signed_tail = false;
};

struct VerifyReport {
  bool ok = false;
  uint64_t size = 0;             // entries in the log (tree size)
  uint64_t entries_checked = 0;  // entries read by this run
  uint64_t checkpoints_checked = 0;
  uint64_t retained_from = 0;
  uint64_t unsigned_tail = 0;  // entries after the newest checkpoint
  std::optional<uint64_t> first_bad_seq;
  std::string problem;                     // what failed, empty when ok
  std::optional<SignedCheckpoint> latest;  // newest checkpoint that verified
};

// Verifies the audit tables of `db`. The Result is an error only when the database cannot be
// read at all; a log that does not verify gives a report with ok == false.
Result<VerifyReport> VerifyLog(storage::Database& db, const crypto::SigningPublicKey& key,
                               const VerifyOptions& options);
// Verifies the entries first..last (inclusive sequence numbers) of the audit tables of `db`
// against the log's seal, in one read snapshot, without reading the rest of the log
// (docs/audit-format.md §8, "Range verification"): every stored checkpoint and the seal are
// signed by `key` for this origin and in order; the seal is consistent with the newest
// checkpoint (proof from the stored nodes); each entry in the range passes the per-entry checks
// of VerifyLog (encoding, own seq, leaf hash, indexed columns, subject index; purged only below
// retained-from), its chain value follows from the previous entry's, and its leaf is included
// in the seal's signed root (an RFC 6962 audit path from the stored nodes). `last` is clipped to
// the log's end. The report's size is the seal's size, latest the seal, entries_checked the
// entries of the range. InvalidArgument when first > last, first is beyond the log's end, or
// the range holds more than kMaxVerifyRange entries.
inline constexpr uint64_t kMaxVerifyRange = 100000;
Result<VerifyReport> VerifyRange(storage::Database& db, const crypto::SigningPublicKey& key,
                                 const VerifyOptions& options, uint64_t first, uint64_t last);
// Verifies an export (JSON lines, docs/audit-format.md §Export).
Result<VerifyReport> VerifyExport(std::istream& in, const crypto::SigningPublicKey& key,
                                  const VerifyOptions& options);

}  // namespace mash::audit
