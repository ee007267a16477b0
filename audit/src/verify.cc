#include "mash/audit/verify.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "mash/audit/event.h"
#include "mash/audit/merkle.h"
#include "store.h"

namespace mash::audit {
namespace {

struct IndexColumns {
  int64_t time_ms = 0;
  std::string type, outcome, person, agency, purpose, lawful_basis;
};

struct Entry {
  uint64_t seq = 0;
  bool purged = false;
  Bytes encoded;
  std::optional<Hash> leaf_hash;
  std::optional<Hash> chain;
  std::optional<IndexColumns> columns;
  // From an export: the readable form, which must match the encoding.
  std::optional<nlohmann::json> readable;
};

using SubjectCheck = std::function<bool(const std::string&, uint64_t)>;

// The checks of one entry on its own (VerifyLog step 2): empty when it passes, else the
// problem, naming the entry. `e.leaf_hash` is set.
std::string EntryProblem(const Entry& e, uint64_t retained, const SubjectCheck& subject_check) {
  const std::string at = "entry " + std::to_string(e.seq) + ": ";
  if (e.purged) {
    if (e.seq >= retained) return at + "removed without a signed retention tombstone";
    return "";
  }
  auto ev = DecodeEvent(e.encoded);
  if (!ev.ok()) return at + "encoding is malformed";
  if (ev->seq != e.seq) {
    return at + "holds event " + std::to_string(ev->seq) + " (rows swapped, moved or inserted)";
  }
  if (HashLeaf(e.encoded) != *e.leaf_hash) return at + "leaf hash does not match the encoding";
  if (e.columns) {
    const IndexColumns& c = *e.columns;
    if (c.time_ms != ev->time_ms || c.type != EventTypeName(ev->type) ||
        c.outcome != OutcomeName(ev->outcome) || c.person != ev->person || c.agency != ev->agency ||
        c.purpose != ev->purpose || c.lawful_basis != ev->lawful_basis) {
      return at + "indexed columns do not match the encoding";
    }
  }
  if (e.readable && *e.readable != EventToJson(*ev)) {
    return at + "readable form does not match the encoding";
  }
  if (subject_check) {
    for (const auto& s : ev->subjects) {
      if (!subject_check(s, e.seq)) return at + "subject index entry missing";
    }
  }
  return "";
}

class Verifier {
 public:
  Verifier(const crypto::SigningPublicKey& key, const VerifyOptions& options)
      : key_(key), options_(options), origin_(options.origin) {}

  VerifyReport& report() { return report_; }
  bool failed() const { return failed_; }

  // Checkpoints in stored order. Returns false when one is invalid.
  bool AddCheckpoints(const std::vector<std::string>& texts) {
    for (size_t i = 0; i < texts.size(); ++i) {
      auto c = ParseAndVerifyCheckpoint(texts[i], key_);
      if (!c.ok()) {
        return Fail(std::nullopt, "checkpoint #" + std::to_string(i + 1) + " " +
                                      (c.status().code() == StatusCode::kUnauthenticated
                                           ? "has an invalid signature"
                                           : "is malformed"));
      }
      const Checkpoint& cp = c->checkpoint;
      if (origin_.empty()) origin_ = cp.origin;
      if (cp.origin != origin_) {
        return Fail(std::nullopt, "checkpoint #" + std::to_string(i + 1) + " is for another log");
      }
      if (report_.latest) {
        const Checkpoint& prev = report_.latest->checkpoint;
        if (cp.size < prev.size || cp.time_ms < prev.time_ms ||
            cp.retained_from < prev.retained_from) {
          return Fail(cp.size > 0 ? std::optional<uint64_t>(cp.size - 1) : std::nullopt,
                      "checkpoints out of order at size " + std::to_string(cp.size));
        }
      }
      pending_[cp.size].push_back({*c, false});
      report_.latest = *c;
      ++report_.checkpoints_checked;
    }
    for (const auto& t : options_.trusted) pending_[t.checkpoint.size].push_back({t, true});
    report_.retained_from = report_.latest ? report_.latest->checkpoint.retained_from : 0;
    return true;
  }

  // Starts after a checkpoint verified earlier, reading the stored frontier.
  bool Resume(const NodeReader& nodes) {
    if (!options_.resume_from) return true;
    const Checkpoint& r = options_.resume_from->checkpoint;
    auto f = Frontier::Load(nodes, r.size);
    if (!f.ok() || f->Root() != r.root) {
      return Fail(std::nullopt, "stored tree does not match the checkpoint verified at size " +
                                    std::to_string(r.size));
    }
    frontier_ = *f;
    chain_ = r.chain;
    expected_ = r.size;
    good_size_ = r.size;
    // Checkpoints at or below the resume point: same size must have the same root; a trusted
    // one below must be a prefix of it.
    for (auto it = pending_.begin(); it != pending_.end() && it->first <= r.size;) {
      for (const auto& [cp, trusted] : it->second) {
        const Checkpoint& c = cp.checkpoint;
        if (c.size == r.size) {
          if (c.root != r.root)
            return Fail(std::nullopt, "two roots for size " + std::to_string(c.size));
        } else if (trusted && c.size > 0) {
          auto proof = ConsistencyProof(nodes, c.size, r.size);
          if (!proof.ok() || !VerifyConsistency(c.size, r.size, *proof, c.root, r.root).ok()) {
            return Fail(std::nullopt, "log is inconsistent with a trusted checkpoint of size " +
                                          std::to_string(c.size));
          }
        }
      }
      it = pending_.erase(it);
    }
    return true;
  }

  bool Add(const Entry& e) {
    if (e.seq != expected_) {
      if (e.seq > expected_)
        return Fail(expected_, "entry " + std::to_string(expected_) + " is missing");
      return Fail(e.seq, "entry " + std::to_string(e.seq) + " is out of order");
    }
    if (!e.leaf_hash)
      return Fail(e.seq, "entry " + std::to_string(e.seq) + ": stored leaf hash is malformed");
    if (std::string problem = EntryProblem(e, report_.retained_from, subject_check_);
        !problem.empty()) {
      return Fail(e.seq, std::move(problem));
    }
    const Hash leaf = *e.leaf_hash;
    const std::string at = "entry " + std::to_string(e.seq) + ": ";
    const Hash chain = ChainNext(chain_, leaf);
    if (!e.chain || *e.chain != chain) return Fail(e.seq, at + "hash chain mismatch");
    chain_ = chain;
    scratch_.clear();
    frontier_.Append(leaf, &scratch_);
    if (node_check_) {
      for (const auto& n : scratch_) {
        if (!node_check_(n)) {
          return Fail(e.seq, at + "stored tree node (level " + std::to_string(n.level) +
                                 ", index " + std::to_string(n.index) + ") does not match");
        }
      }
    }
    ++expected_;
    ++report_.entries_checked;
    auto it = pending_.find(expected_);
    if (it != pending_.end()) {
      const Hash root = frontier_.Root();
      for (const auto& [cp, trusted] : it->second) {
        if (cp.checkpoint.root != root || cp.checkpoint.chain != chain_) {
          return Fail(good_size_, std::string(trusted ? "trusted " : "") + "checkpoint of size " +
                                      std::to_string(expected_) +
                                      " does not match the log (first bad entry in [" +
                                      std::to_string(good_size_) + ", " +
                                      std::to_string(expected_) + "))");
        }
      }
      pending_.erase(it);
      good_size_ = expected_;
    }
    return true;
  }

  bool SetSeal(const std::optional<std::string>& text) {
    if (!text) return true;
    auto c = ParseAndVerifyCheckpoint(*text, key_);
    if (!c.ok()) return Fail(std::nullopt, "the log's seal does not verify");
    if (!origin_.empty() && c->checkpoint.origin != origin_) {
      return Fail(std::nullopt, "the log's seal is for another log");
    }
    seal_ = *c;
    return true;
  }

  void Finish() {
    if (failed_) return;
    report_.size = expected_;
    if (!seal_) {
      if (expected_ > 0) Fail(std::nullopt, "the log has no seal");
    } else {
      const Checkpoint& s = seal_->checkpoint;
      if (s.size < expected_) {
        Fail(s.size,
             "entries from " + std::to_string(s.size) + " were added after the log's sealed end");
      } else if (s.size > expected_) {
        Fail(expected_, "the log ends at " + std::to_string(expected_) + " before its sealed end " +
                            std::to_string(s.size) + " (truncated)");
      } else if (s.root != frontier_.Root() || s.chain != chain_) {
        Fail(good_size_, "the log's end does not match its seal (first bad entry in [" +
                             std::to_string(good_size_) + ", " + std::to_string(expected_) + "))");
      }
      if (failed_) return;
    }
    if (!pending_.empty()) {
      const auto& [size, list] = *pending_.begin();
      const bool trusted = list.front().second;
      Fail(expected_, std::string(trusted ? "a trusted checkpoint" : "a checkpoint") + " covers " +
                          std::to_string(size) + " entries but the log has " +
                          std::to_string(expected_) +
                          " (truncated or restored from an older copy)");
      return;
    }
    const uint64_t signed_size = report_.latest ? report_.latest->checkpoint.size : 0;
    report_.unsigned_tail = expected_ - std::min(expected_, signed_size);
    if (options_.require_signed_tail && report_.unsigned_tail > 0) {
      Fail(signed_size,
           std::to_string(report_.unsigned_tail) + " entries not covered by a checkpoint");
      return;
    }
    report_.ok = true;
  }

  bool Fail(std::optional<uint64_t> seq, std::string problem) {
    if (failed_) return false;
    failed_ = true;
    report_.ok = false;
    report_.first_bad_seq = seq;
    report_.problem = std::move(problem);
    report_.size = expected_;
    return false;
  }

  uint64_t expected() const { return expected_; }
  const std::optional<SignedCheckpoint>& seal() const { return seal_; }
  SubjectCheck subject_check_;
  std::function<bool(const Frontier::NewNode&)> node_check_;

 private:
  const crypto::SigningPublicKey& key_;
  const VerifyOptions& options_;
  std::string origin_;
  VerifyReport report_;
  bool failed_ = false;
  std::map<uint64_t, std::vector<std::pair<SignedCheckpoint, bool>>> pending_;
  Frontier frontier_;
  Hash chain_ = ChainStart();
  uint64_t expected_ = 0;
  uint64_t good_size_ = 0;
  std::vector<Frontier::NewNode> scratch_;
  std::optional<SignedCheckpoint> seal_;
};

std::optional<Hash> HashColumn(const storage::Statement& s, int col) {
  return HashFromBytes(s.ColumnBlob(col));
}

// The stored checkpoints' texts, oldest first.
Result<std::vector<std::string>> CheckpointTexts(storage::Database& db) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db.Prepare("SELECT text FROM audit_checkpoints ORDER BY id"));
  std::vector<std::string> texts;
  for (;;) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return texts;
    texts.push_back(s.ColumnText(0));
  }
}

// Calls `each` with the purged entries (leaf hash and chain only) whose seq is in
// [from, to), in order, until it returns false.
Status ForEachPurged(storage::Database& db, uint64_t from, uint64_t to,
                     const std::function<bool(Entry)>& each) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db.Prepare("SELECT seq, leaf_hash, chain FROM audit_purged WHERE seq >= ? AND seq < ? "
                 "ORDER BY seq"));
  s.Bind(1, static_cast<int64_t>(from)).Bind(2, static_cast<int64_t>(to));
  for (;;) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::Ok();
    Entry e;
    e.seq = static_cast<uint64_t>(s.ColumnInt(0));
    e.purged = true;
    e.leaf_hash = HashColumn(s, 1);
    e.chain = HashColumn(s, 2);
    if (!each(std::move(e))) return Status::Ok();
  }
}

// Audit paths of consecutive leaves share most of their nodes: remember the last node read at
// each level, so that a range costs about one read per leaf instead of one per proof element.
class CachingNodeReader final : public NodeReader {
 public:
  explicit CachingNodeReader(const NodeReader& inner) : inner_(inner), last_(64) {}
  Result<Hash> Node(int level, uint64_t index) const override {
    auto& slot = last_[static_cast<size_t>(level) % last_.size()];
    if (slot && slot->first == index) return slot->second;
    MASH_ASSIGN_OR_RETURN(Hash h, inner_.Node(level, index));
    slot.emplace(index, h);
    return h;
  }

 private:
  const NodeReader& inner_;
  mutable std::vector<std::optional<std::pair<uint64_t, Hash>>> last_;
};

// MTH of leaves [begin, begin + count): the leaves of first..last from `leaves`, every complete
// subtree outside that range from the stored nodes (RFC 6962 recursion).
Result<Hash> RangeRoot(const NodeReader& nodes,
                       const std::vector<std::pair<uint64_t, Hash>>& leaves, uint64_t first,
                       uint64_t last, uint64_t begin, uint64_t count) {
  const bool outside = begin + count <= first || begin > last;
  if (outside && std::has_single_bit(count)) {
    return nodes.Node(std::countr_zero(count), begin / count);
  }
  if (count == 1) return leaves[static_cast<size_t>(begin - first)].second;
  const uint64_t k = std::bit_floor(count - 1);  // the largest power of two below count
  MASH_ASSIGN_OR_RETURN(Hash left, RangeRoot(nodes, leaves, first, last, begin, k));
  MASH_ASSIGN_OR_RETURN(Hash right, RangeRoot(nodes, leaves, first, last, begin + k, count - k));
  return HashChildren(left, right);
}

Result<VerifyReport> VerifyRangeIn(storage::Database& db, const crypto::SigningPublicKey& key,
                                   const VerifyOptions& options, uint64_t first, uint64_t last) {
  Verifier v(key, options);
  MASH_ASSIGN_OR_RETURN(const std::vector<std::string> texts, CheckpointTexts(db));
  MASH_ASSIGN_OR_RETURN(auto seal_text, internal::GetMeta(db, "seal"));
  if (!v.AddCheckpoints(texts) || !v.SetSeal(seal_text)) return v.report();
  if (!v.seal()) {
    v.Fail(std::nullopt, "the log has no seal");
    return v.report();
  }
  const Checkpoint& seal = v.seal()->checkpoint;
  const uint64_t size = seal.size;
  if (first >= size) {
    return InvalidArgument("the range starts after the log's end (" + std::to_string(size) +
                           " entries)");
  }
  last = std::min(last, size - 1);
  if (last - first + 1 > kMaxVerifyRange) {
    return InvalidArgument("a range holds at most " + std::to_string(kMaxVerifyRange) + " entries");
  }
  VerifyReport& report = v.report();
  report.size = size;
  auto fail = [&](std::optional<uint64_t> seq, std::string problem) {
    v.Fail(seq, std::move(problem));
    report.size = size;
    return report;
  };
  internal::StoreNodeReader stored(db);
  CachingNodeReader nodes(stored);
  // The seal against the newest checkpoint: same tree, or the checkpoint's tree a prefix of it.
  if (report.latest) {
    const Checkpoint& c = report.latest->checkpoint;
    if (c.size > size) {
      return fail(size, "a checkpoint covers " + std::to_string(c.size) +
                            " entries but the log is sealed at " + std::to_string(size) +
                            " (truncated or restored from an older copy)");
    }
    bool consistent = c.size == size ? c.root == seal.root && c.chain == seal.chain : true;
    if (c.size > 0 && c.size < size) {
      auto proof = ConsistencyProof(stored, c.size, size);
      consistent = proof.ok() && VerifyConsistency(c.size, size, *proof, c.root, seal.root).ok();
    }
    if (!consistent) {
      return fail(std::nullopt, "the log's seal is not consistent with its newest checkpoint");
    }
  }
  MASH_ASSIGN_OR_RETURN(storage::Statement subject_stmt,
                        db.Prepare("SELECT 1 FROM audit_subjects WHERE skey = ? AND seq = ?"));
  const SubjectCheck subject_check = [&](const std::string& p, uint64_t seq) {
    subject_stmt.Reset();
    subject_stmt.Bind(1, internal::SubjectKey(p)).Bind(2, static_cast<int64_t>(seq));
    auto row = subject_stmt.Step();
    return row.ok() && *row;
  };
  // The chain value before the range, as stored (it cannot be checked without the entries
  // before it: a wrong one shows as a chain mismatch at `first`).
  Hash chain = ChainStart();
  if (first > 0) {
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db.Prepare("SELECT chain FROM audit_events WHERE seq = ?1 UNION ALL "
                                     "SELECT chain FROM audit_purged WHERE seq = ?1"));
    s.Bind(1, static_cast<int64_t>(first - 1));
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    std::optional<Hash> previous = row ? HashColumn(s, 0) : std::nullopt;
    if (!previous) return fail(first - 1, "entry " + std::to_string(first - 1) + " is missing");
    chain = *previous;
  }
  std::vector<Entry> purged;
  MASH_RETURN_IF_ERROR(ForEachPurged(db, first, last + 1, [&](Entry e) {
    purged.push_back(std::move(e));
    return true;
  }));
  MASH_ASSIGN_OR_RETURN(
      storage::Statement events,
      db.Prepare("SELECT seq, time_ms, type, outcome, person, agency, purpose, lawful_basis, "
                 "encoded, leaf_hash, chain FROM audit_events WHERE seq >= ? AND seq <= ? "
                 "ORDER BY seq"));
  events.Bind(1, static_cast<int64_t>(first)).Bind(2, static_cast<int64_t>(last));
  std::optional<Entry> row_entry;  // the next stored event not yet used
  auto next_event = [&]() -> Status {
    MASH_ASSIGN_OR_RETURN(bool row, events.Step());
    if (!row) {
      row_entry.reset();
      return Status::Ok();
    }
    Entry e;
    e.seq = static_cast<uint64_t>(events.ColumnInt(0));
    e.columns.emplace();
    e.columns->time_ms = events.ColumnInt(1);
    e.columns->type = events.ColumnText(2);
    e.columns->outcome = events.ColumnText(3);
    e.columns->person = events.ColumnText(4);
    e.columns->agency = events.ColumnText(5);
    e.columns->purpose = events.ColumnText(6);
    e.columns->lawful_basis = events.ColumnText(7);
    e.encoded = events.ColumnBlob(8);
    e.leaf_hash = HashColumn(events, 9);
    e.chain = HashColumn(events, 10);
    row_entry = std::move(e);
    return Status::Ok();
  };
  MASH_RETURN_IF_ERROR(next_event());
  size_t next_purged = 0;
  std::vector<std::pair<uint64_t, Hash>> leaves;  // checked on their own; proofs next
  leaves.reserve(static_cast<size_t>(last - first + 1));
  for (uint64_t seq = first; seq <= last; ++seq) {
    const std::string at = "entry " + std::to_string(seq) + ": ";
    Entry e;
    if (next_purged < purged.size() && purged[next_purged].seq == seq) {
      e = std::move(purged[next_purged++]);
    } else if (row_entry && row_entry->seq == seq) {
      e = std::move(*row_entry);
      MASH_RETURN_IF_ERROR(next_event());
    } else {
      return fail(seq, "entry " + std::to_string(seq) + " is missing");
    }
    if (row_entry && row_entry->seq <= seq) {
      return fail(seq, at + "is held twice (as an event and as a purged entry)");
    }
    if (!e.leaf_hash) return fail(seq, at + "stored leaf hash is malformed");
    if (std::string problem = EntryProblem(e, report.retained_from, subject_check);
        !problem.empty()) {
      return fail(seq, std::move(problem));
    }
    chain = ChainNext(chain, *e.leaf_hash);
    if (!e.chain || *e.chain != chain) return fail(seq, at + "hash chain mismatch");
    leaves.emplace_back(seq, *e.leaf_hash);
  }
  if (last == size - 1 && chain != seal.chain) {
    return fail(last, "the log's end does not match its seal's chain head");
  }
  // The log's end against the seal: rows added after it, or removed from the end (which would
  // otherwise show as an audit path that cannot be built, at an entry before them).
  {
    MASH_ASSIGN_OR_RETURN(storage::Statement s, db.Prepare("SELECT MAX(seq) FROM audit_events"));
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    const bool any = row && !s.ColumnIsNull(0);
    const uint64_t end = any ? static_cast<uint64_t>(s.ColumnInt(0)) + 1 : 0;
    if (end > size) {
      return fail(
          size, "entries from " + std::to_string(size) + " were added after the log's sealed end");
    }
    if (end < size) {
      return fail(end, "the log ends at " + std::to_string(end) + " before its sealed end " +
                           std::to_string(size) + " (truncated)");
    }
  }
  // Second pass, once every entry of the range passed its own checks: the seal's root
  // recomputed from the range's leaves and, outside the range, the stored complete subtrees
  // (O(log n) reads). Only when it differs is each leaf's audit path checked, to name the first
  // entry that is not in the signed tree.
  auto root = RangeRoot(nodes, leaves, first, last, 0, size);
  if (!root.ok() && root.status().code() != StatusCode::kNotFound &&
      root.status().code() != StatusCode::kDataLoss) {
    return root.status();
  }
  if (!root.ok() || *root != seal.root) {
    for (const auto& [seq, leaf] : leaves) {
      auto proof = InclusionProof(nodes, seq, size);
      if (!proof.ok() && proof.status().code() != StatusCode::kNotFound &&
          proof.status().code() != StatusCode::kDataLoss) {
        return proof.status();
      }
      if (!proof.ok()) {
        return fail(seq, "entry " + std::to_string(seq) +
                             ": its audit path cannot be built (a stored entry or tree node it "
                             "needs is missing or malformed)");
      }
      if (!VerifyInclusion(seq, size, leaf, *proof, seal.root).ok()) {
        return fail(seq, "entry " + std::to_string(seq) +
                             ": not included in the signed tree of the log's seal");
      }
    }
    return fail(first, "the range's entries do not lead to the seal's signed root");
  }
  report.entries_checked = leaves.size();
  report.ok = true;
  report.size = size;
  report.latest = v.seal();
  return report;
}

}  // namespace

Result<VerifyReport> VerifyLog(storage::Database& db, const crypto::SigningPublicKey& key,
                               const VerifyOptions& options) {
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  Verifier v(key, options);
  if (!has) {
    v.Fail(std::nullopt, "no audit log in this database");
    return v.report();
  }
  MASH_ASSIGN_OR_RETURN(const std::vector<std::string> texts, CheckpointTexts(db));
  MASH_ASSIGN_OR_RETURN(auto seal, internal::GetMeta(db, "seal"));
  internal::StoreNodeReader nodes(db);
  if (!v.AddCheckpoints(texts) || !v.SetSeal(seal) || !v.Resume(nodes)) return v.report();

  const uint64_t start = v.expected();
  const bool full = start == 0;
  // Stored interior nodes complete in index order at each level: one cursor per level reads
  // them sequentially instead of a B-tree descent per node.
  std::vector<std::optional<storage::Statement>> node_cursors(64);
  Status node_error;
  if (options.check_nodes) {
    v.node_check_ = [&](const Frontier::NewNode& n) {
      auto& cursor = node_cursors[static_cast<size_t>(n.level)];
      if (!cursor) {
        auto s = db.Prepare(
            "SELECT idx, hash FROM audit_nodes WHERE level = ? AND idx >= ? ORDER BY idx");
        if (!s.ok()) {
          node_error = s.status();
          return false;
        }
        cursor.emplace(std::move(*s));
        cursor->Bind(1, static_cast<int64_t>(n.level)).Bind(2, static_cast<int64_t>(n.index));
      }
      auto row = cursor->Step();
      if (!row.ok()) {
        node_error = row.status();
        return false;
      }
      return *row && static_cast<uint64_t>(cursor->ColumnInt(0)) == n.index &&
             HashFromBytes(cursor->ColumnBlob(1)) == n.hash;
    };
  }
  // The subject index: a full run collects every (key, seq) the events name and compares the
  // sorted list with the table in one ordered scan; an incremental run looks each one up.
  std::vector<std::pair<int64_t, int64_t>> subject_pairs;
  std::optional<storage::Statement> subject_stmt;
  if (options.check_nodes && full) {
    v.subject_check_ = [&](const std::string& p, uint64_t seq) {
      subject_pairs.emplace_back(internal::SubjectKey(p), static_cast<int64_t>(seq));
      return true;
    };
  } else if (options.check_nodes) {
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db.Prepare("SELECT 1 FROM audit_subjects WHERE skey = ? AND seq = ?"));
    subject_stmt.emplace(std::move(s));
    v.subject_check_ = [&](const std::string& p, uint64_t seq) {
      subject_stmt->Reset();
      subject_stmt->Bind(1, internal::SubjectKey(p)).Bind(2, static_cast<int64_t>(seq));
      auto row = subject_stmt->Step();
      return row.ok() && *row;
    };
  }

  const uint64_t retained = v.report().retained_from;
  if (start < retained) {
    bool failed = false;
    MASH_RETURN_IF_ERROR(ForEachPurged(db, start, retained, [&](Entry e) {
      failed = !v.Add(e);
      return !failed;
    }));
    if (failed) return v.report();
  }
  {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db.Prepare("SELECT seq, time_ms, type, outcome, person, agency, purpose, lawful_basis, "
                   "encoded, leaf_hash, chain FROM audit_events WHERE seq >= ? ORDER BY seq"));
    s.Bind(1, static_cast<int64_t>(std::max(start, retained)));
    Entry e;
    e.columns.emplace();
    for (;;) {
      MASH_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      e.seq = static_cast<uint64_t>(s.ColumnInt(0));
      IndexColumns& c = *e.columns;
      c.time_ms = s.ColumnInt(1);
      c.type = s.ColumnText(2);
      c.outcome = s.ColumnText(3);
      c.person = s.ColumnText(4);
      c.agency = s.ColumnText(5);
      c.purpose = s.ColumnText(6);
      c.lawful_basis = s.ColumnText(7);
      e.encoded = s.ColumnBlob(8);
      e.leaf_hash = HashColumn(s, 9);
      e.chain = HashColumn(s, 10);
      if (!v.Add(e)) return v.report();
    }
  }
  if (!node_error.ok()) return node_error;
  v.Finish();
  if (v.report().ok && options.check_nodes && full) {
    std::sort(subject_pairs.begin(), subject_pairs.end());
    subject_pairs.erase(std::unique(subject_pairs.begin(), subject_pairs.end()),
                        subject_pairs.end());
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db.Prepare("SELECT skey, seq FROM audit_subjects ORDER BY skey, seq"));
    size_t i = 0;
    std::optional<uint64_t> first_bad;
    auto note = [&](int64_t seq) {
      const uint64_t u = static_cast<uint64_t>(std::max<int64_t>(seq, 0));
      if (!first_bad || u < *first_bad) first_bad = u;
    };
    for (;;) {
      MASH_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const std::pair<int64_t, int64_t> stored{s.ColumnInt(0), s.ColumnInt(1)};
      while (i < subject_pairs.size() && subject_pairs[i] < stored) note(subject_pairs[i++].second);
      if (i < subject_pairs.size() && subject_pairs[i] == stored) {
        ++i;
      } else {
        note(stored.second);  // an index entry no event names
      }
    }
    while (i < subject_pairs.size()) note(subject_pairs[i++].second);
    if (first_bad) {
      v.Fail(first_bad,
             "entry " + std::to_string(*first_bad) + ": subject index does not match the events");
    }
  }
  return v.report();
}

Result<VerifyReport> VerifyRange(storage::Database& db, const crypto::SigningPublicKey& key,
                                 const VerifyOptions& options, uint64_t first, uint64_t last) {
  if (first > last) return InvalidArgument("the range ends before it starts");
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) {
    Verifier v(key, options);
    v.Fail(std::nullopt, "no audit log in this database");
    return v.report();
  }
  // One read snapshot: the seal and the entries are of the same moment.
  MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  Result<VerifyReport> r = VerifyRangeIn(db, key, options, first, last);
  (void)db.Exec("COMMIT");
  return r;
}

Result<VerifyReport> VerifyExport(std::istream& in, const crypto::SigningPublicKey& key,
                                  const VerifyOptions& options) {
  VerifyOptions opts = options;
  opts.resume_from.reset();  // an export starts at entry 0
  Verifier v(key, opts);
  std::string line;
  size_t line_no = 0;
  std::vector<std::string> checkpoints;
  bool header = false, entries_started = false;
  std::optional<std::string> seal;
  auto bad_line = [&](const std::string& what) {
    v.Fail(std::nullopt, "export line " + std::to_string(line_no) + ": " + what);
    return v.report();
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      return bad_line("not a JSON object with a type");
    }
    const std::string type = j["type"].get<std::string>();
    if (!header) {
      if (type != "header" || j.value("format", "") != "mash-audit-export/v1") {
        return bad_line("missing export header");
      }
      header = true;
      continue;
    }
    if (type == "seal") {
      if (entries_started || seal || !j.contains("text") || !j["text"].is_string()) {
        return bad_line("misplaced or malformed seal");
      }
      seal = j["text"].get<std::string>();
      continue;
    }
    if (type == "checkpoint") {
      if (entries_started || !j.contains("text") || !j["text"].is_string()) {
        return bad_line("misplaced or malformed checkpoint");
      }
      checkpoints.push_back(j["text"].get<std::string>());
      continue;
    }
    if (type != "event" && type != "purged") return bad_line("unknown line type");
    if (!entries_started) {
      entries_started = true;
      if (!v.AddCheckpoints(checkpoints) || !v.SetSeal(seal)) return v.report();
    }
    Entry e;
    try {
      e.seq = j.at("seq").get<uint64_t>();
      auto leaf = common::Base64Decode(j.at("leaf_hash").get<std::string>());
      auto chain = common::Base64Decode(j.at("chain").get<std::string>());
      if (leaf) e.leaf_hash = HashFromBytes(*leaf);
      if (chain) e.chain = HashFromBytes(*chain);
      if (type == "purged") {
        e.purged = true;
      } else {
        auto enc = common::Base64Decode(j.at("encoded").get<std::string>());
        if (!enc) return bad_line("encoding is not base64");
        e.encoded = std::move(*enc);
        if (j.contains("event")) e.readable = j["event"];
      }
    } catch (const nlohmann::json::exception&) {
      return bad_line("malformed entry");
    }
    if (!v.Add(e)) return v.report();
  }
  if (!header) return bad_line("empty export");
  if (!entries_started && (!v.AddCheckpoints(checkpoints) || !v.SetSeal(seal))) {
    return v.report();
  }
  v.Finish();
  return v.report();
}

}  // namespace mash::audit
