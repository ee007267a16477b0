// Tampering with the stored log: each change is caught by VerifyLog (naming the first bad entry)
// and by the start-up check of AuditLog::Open; what only an outside party can see (truncation
// re-signed with the real key, a restored old copy, a split view) is caught by a witness's
// checkpoint or the anchor file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "audit_test_util.h"
#include "mash/audit/witness.h"

namespace mash::audit {
namespace {

using testing::AuditStoreTest;
using testing::MakeEvent;

class TamperTest : public AuditStoreTest {
 protected:
  void SetUp() override {
    AuditStoreTest::SetUp();
    BuildLog(kEvents);
    ASSERT_TRUE(Verify().ok);
  }
  void Exec(const std::string& sql) {
    auto db = OpenDb();
    ASSERT_TRUE(db->Exec(sql).ok()) << sql;
  }
  // Both the offline verifier and the start-up check refuse the log.
  void ExpectCaught(std::optional<uint64_t> first_bad) {
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.problem.empty());
    if (first_bad) {
      EXPECT_EQ(r.first_bad_seq, first_bad) << r.problem;
      // Range verification against the seal finds it too, from a window around it.
      auto db = OpenDb();
      const uint64_t first = *first_bad >= 2 ? *first_bad - 2 : 0;
      auto range = VerifyRange(*db, key_->Public(), {}, first, *first_bad + 2);
      ASSERT_TRUE(range.ok()) << range.status().ToString();
      EXPECT_FALSE(range->ok);
      EXPECT_EQ(range->first_bad_seq, first_bad) << range->problem;
    }
    auto log = OpenLog(Options());
    EXPECT_FALSE(log.ok());
    if (!log.ok()) {
      EXPECT_EQ(log.status().code(), StatusCode::kDataLoss) << log.status().ToString();
    }
  }
  Bytes Column(const std::string& sql) {
    auto db = OpenDb();
    auto s = db->Prepare(sql);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(*s->Step());
    return s->ColumnBlob(0);
  }
  static constexpr int kEvents = 50;
};

TEST_F(TamperTest, RangeVerificationOfAnUntouchedLog) {
  auto db = OpenDb();
  for (const auto& [first, last] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 0}, {0, kEvents - 1}, {10, 20}, {kEvents - 1, kEvents - 1}, {30, 1000}}) {
    auto r = VerifyRange(*db, key_->Public(), {}, first, last);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->ok) << first << ".." << last << ": " << r->problem;
    EXPECT_EQ(r->size, static_cast<uint64_t>(kEvents));
    EXPECT_EQ(r->entries_checked, std::min<uint64_t>(last, kEvents - 1) - first + 1);
    ASSERT_TRUE(r->latest.has_value());
    EXPECT_EQ(r->latest->checkpoint.size, static_cast<uint64_t>(kEvents));  // the seal
  }
  EXPECT_EQ(VerifyRange(*db, key_->Public(), {}, 5, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyRange(*db, key_->Public(), {}, kEvents, kEvents + 5).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyRange(*db, key_->Public(), {}, 0, kMaxVerifyRange + 10).status().code(),
            StatusCode::kOk);  // clipped to the log's end first
}

TEST_F(TamperTest, RangeVerificationFindsARangeOutsideTheSealedTree) {
  // A row changed outside the range leaves the range verified; the same range with the chain
  // value just before it changed names its first entry.
  Exec("UPDATE audit_events SET person = 'nobody' WHERE seq = 40");
  auto db = OpenDb();
  auto clean = VerifyRange(*db, key_->Public(), {}, 10, 20);
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->ok) << clean->problem;
  ASSERT_TRUE(db->Exec("UPDATE audit_events SET chain = zeroblob(32) WHERE seq = 9").ok());
  auto bad = VerifyRange(*db, key_->Public(), {}, 10, 20);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->ok);
  EXPECT_EQ(bad->first_bad_seq, std::optional<uint64_t>(10));
  // A seal that is not the key's.
  ASSERT_TRUE(db->Exec("UPDATE audit_meta SET value = replace(value, 'size 50', 'size 51') "
                       "WHERE key = 'seal'")
                  .ok());
  auto unsealed = VerifyRange(*db, key_->Public(), {}, 10, 20);
  ASSERT_TRUE(unsealed.ok());
  EXPECT_FALSE(unsealed->ok);
  EXPECT_NE(unsealed->problem.find("seal"), std::string::npos) << unsealed->problem;
}

TEST_F(TamperTest, OneByteChangedInARow) {
  Bytes enc = Column("SELECT encoded FROM audit_events WHERE seq = 20");
  enc[enc.size() / 2] ^= 0x01;
  {
    auto db = OpenDb();
    auto s = db->Prepare("UPDATE audit_events SET encoded = ? WHERE seq = 20");
    s->BindBlob(1, enc);
    ASSERT_TRUE(s->Run().ok());
  }
  ExpectCaught(20);
}

TEST_F(TamperTest, ChangedEventWithRecomputedLeafHash) {
  // The attacker edits the event properly (a valid encoding of other content) and recomputes
  // its leaf hash: the chain and the tree give it away.
  AuditEvent e = MakeEvent(20);
  e.seq = 20;
  e.person = "someone-else";
  Bytes enc = *EncodeEvent(e);
  {
    auto db = OpenDb();
    auto s = db->Prepare(
        "UPDATE audit_events SET encoded = ?, leaf_hash = ?, person = ? WHERE seq = 20");
    s->BindBlob(1, enc).BindBlob(2, HashLeaf(enc)).Bind(3, "someone-else");
    ASSERT_TRUE(s->Run().ok());
  }
  ExpectCaught(20);
}

TEST_F(TamperTest, IndexedColumnChanged) {
  Exec("UPDATE audit_events SET person = 'nobody' WHERE seq = 33");
  ExpectCaught(33);
}

TEST_F(TamperTest, SubjectIndexChanged) {
  Exec("UPDATE audit_subjects SET skey = skey + 1 WHERE seq = 12");
  ExpectCaught(12);
}

TEST_F(TamperTest, RowDeleted) {
  Exec("DELETE FROM audit_events WHERE seq = 20");
  ExpectCaught(20);
}

TEST_F(TamperTest, RowsSwapped) {
  Exec(
      "UPDATE audit_events SET seq = -1 WHERE seq = 10;"
      "UPDATE audit_events SET seq = 10 WHERE seq = 11;"
      "UPDATE audit_events SET seq = 11 WHERE seq = -1;");
  ExpectCaught(10);
}

TEST_F(TamperTest, RowInsertedAtTheEndWithValidHashes) {
  // Forged by someone with the database key but not the checkpoint key: encoding, leaf hash,
  // chain and tree nodes are all made correctly; only the seal is missing.
  AuditEvent e = MakeEvent(99);
  e.seq = kEvents;
  e.time_ms = 1'790'000'100'000;
  Bytes enc = *EncodeEvent(e);
  Hash leaf = HashLeaf(enc);
  auto prev = HashFromBytes(Column("SELECT chain FROM audit_events WHERE seq = 49"));
  Hash chain = ChainNext(*prev, leaf);
  {
    auto db = OpenDb();
    auto s = db->Prepare(
        "INSERT INTO audit_events(seq, time_ms, type, outcome, person, agency, purpose, "
        "lawful_basis, encoded, leaf_hash, chain) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    s->Bind(1, int64_t{kEvents})
        .Bind(2, e.time_ms)
        .Bind(3, EventTypeName(e.type))
        .Bind(4, OutcomeName(e.outcome))
        .Bind(5, e.person)
        .Bind(6, e.agency)
        .Bind(7, e.purpose)
        .Bind(8, e.lawful_basis)
        .BindBlob(9, enc)
        .BindBlob(10, leaf)
        .BindBlob(11, chain);
    ASSERT_TRUE(s->Run().ok());
    // The subject index key, as docs/audit-format.md defines it.
    const auto digest = crypto::Sha256(common::AsBytes(e.subjects[0]));
    uint64_t skey = 0;
    for (int i = 0; i < 8; ++i) skey = (skey << 8) | digest[static_cast<size_t>(i)];
    auto sub = db->Prepare("INSERT INTO audit_subjects(skey, seq) VALUES(?, ?)");
    sub->Bind(1, static_cast<int64_t>(skey)).Bind(2, int64_t{kEvents});
    ASSERT_TRUE(sub->Run().ok());
  }
  ExpectCaught(kEvents);
}

TEST_F(TamperTest, RowInsertedInTheMiddle) {
  Exec(
      "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 20;"
      "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000;");
  AuditEvent e = MakeEvent(77);
  e.seq = 20;
  Bytes enc = *EncodeEvent(e);
  {
    auto db = OpenDb();
    auto s = db->Prepare(
        "INSERT INTO audit_events(seq, time_ms, type, outcome, person, agency, purpose, "
        "lawful_basis, encoded, leaf_hash, chain) VALUES(20,?,?,?,?,?,?,?,?,?,?)");
    s->Bind(1, e.time_ms)
        .Bind(2, EventTypeName(e.type))
        .Bind(3, OutcomeName(e.outcome))
        .Bind(4, e.person)
        .Bind(5, e.agency)
        .Bind(6, e.purpose)
        .Bind(7, e.lawful_basis)
        .BindBlob(8, enc)
        .BindBlob(9, HashLeaf(enc))
        .BindBlob(10, Bytes(32, 0));
    ASSERT_TRUE(s->Run().ok());
  }
  ExpectCaught(20);
}

TEST_F(TamperTest, LastRowsTruncated) {
  Exec("DELETE FROM audit_events WHERE seq >= 45");
  ExpectCaught(45);
}

TEST_F(TamperTest, TreeNodeChanged) {
  Exec("UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 3");
  ExpectCaught(std::nullopt);
}

TEST_F(TamperTest, CheckpointChanged) {
  Exec("UPDATE audit_checkpoints SET text = replace(text, 'size 16', 'size 17') WHERE size = 16");
  ExpectCaught(std::nullopt);
}

// The broker's operator, holding the real checkpoint key, cuts the last rows, recomputes the
// tree and re-signs: the log is consistent in itself, but not with what an agency holds.
TEST_F(TamperTest, TruncatedAndResignedWithTheRealKeyIsCaughtByAWitness) {
  Witness agency(key_->Public(), "mash-broker.test");
  {
    auto log = OpenLogOrDie();
    ASSERT_TRUE(agency.Observe(log->Checkpoint()->text, {}).ok());
  }
  const SignedCheckpoint held = *agency.held();
  ASSERT_EQ(held.checkpoint.size, static_cast<uint64_t>(kEvents));

  // Rewrite: drop rows 40.., their nodes and checkpoints, re-sign the end.
  constexpr uint64_t kCut = 40;
  Exec(
      "DELETE FROM audit_events WHERE seq >= 40; DELETE FROM audit_subjects WHERE seq >= 40;"
      "DELETE FROM audit_nodes WHERE (idx + 1) << level > 40;"
      "DELETE FROM audit_checkpoints WHERE size > 40; DELETE FROM audit_meta WHERE key = "
      "'verified_checkpoint';");
  {
    auto db = OpenDb();
    MemoryTree tree;
    Hash chain{};
    auto s = db->Prepare("SELECT leaf_hash, chain FROM audit_events ORDER BY seq");
    while (*s->Step()) {
      tree.Append(*HashFromBytes(s->ColumnBlob(0)));
      chain = *HashFromBytes(s->ColumnBlob(1));
    }
    Checkpoint c;
    c.origin = "mash-broker.test";
    c.size = kCut;
    c.root = tree.Root();
    c.chain = chain;
    c.time_ms = 1'790'000'200'000;
    auto sealed = SignCheckpoint(c, *key_);
    auto upd = db->Prepare("UPDATE audit_meta SET value = ? WHERE key = 'seal'");
    upd->Bind(1, sealed->text);
    ASSERT_TRUE(upd->Run().ok());
  }
  // Consistent in itself: the start-up check alone cannot tell...
  ASSERT_TRUE(Verify().ok);
  // ...but with the agency's checkpoint it can.
  VerifyOptions with_witness;
  with_witness.trusted = {held};
  VerifyReport r = Verify(with_witness);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, kCut);
  AuditLogOptions o = Options();
  o.trusted = {held};
  EXPECT_EQ(OpenLog(o).status().code(), StatusCode::kDataLoss);

  // The rewritten log grows past the held size; the agency's next receipt raises the alarm.
  auto log = OpenLogOrDie();
  AppendRange(*log, 100, 115);
  auto receipt = log->MakeReceipt(log->Size() - 1, agency.held_size());
  ASSERT_TRUE(receipt.ok());
  Status s = agency.VerifyReceipt(*receipt);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  EXPECT_TRUE(agency.alarmed());
  // And it stays alarmed: nothing further is accepted.
  EXPECT_EQ(agency.Observe(log->LatestCheckpoint()->text, {}).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(TamperTest, WholeDatabaseRestoredFromAnOlderCopyIsCaughtByTheAnchor) {
  const auto anchor = dir_ / "audit.anchor";
  AuditLogOptions o = Options();
  o.anchor_file = anchor;
  { auto log = OpenLogOrDie(o); }  // writes the anchor for the existing log
  const auto old_copy = dir_ / "old.db";
  std::filesystem::copy_file(db_file_, old_copy);
  {
    auto log = OpenLogOrDie(o);
    AppendRange(*log, 100, 120);
  }
  std::filesystem::copy_file(old_copy, db_file_, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(db_file_.string() + "-wal");
  std::filesystem::remove(db_file_.string() + "-shm");
  // The old copy is consistent in itself...
  EXPECT_TRUE(Verify().ok);
  // ...but older than the anchor.
  auto log = OpenLog(o);
  EXPECT_EQ(log.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(log.status().message().find("older copy"), std::string::npos)
      << log.status().ToString();
}

TEST_F(TamperTest, TwoAgenciesShownDifferentCheckpointsOfTheSameSize) {
  // The operator keeps two versions of the log (same key, same origin) and shows each agency
  // its own. Comparing what they hold exposes it; so does a witness shown both.
  SignedCheckpoint first;
  {
    auto log = OpenLogOrDie();
    first = *log->Checkpoint();
  }
  const auto other_db = dir_ / "fork.db";
  {
    auto db = OpenDb(other_db);
    auto log = AuditLog::Open(std::move(db), key_, clock_, Options());
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < kEvents; ++i) ASSERT_TRUE((*log)->AppendAndWait(MakeEvent(1000 + i)).ok());
    auto second = (*log)->Checkpoint();
    ASSERT_TRUE(second.ok());
    ASSERT_EQ(second->checkpoint.size, first.checkpoint.size);
    EXPECT_EQ(CompareCheckpoints(first, *second).code(), StatusCode::kDataLoss);
    Witness a(key_->Public(), "mash-broker.test");
    ASSERT_TRUE(a.Observe(first.text, {}).ok());
    EXPECT_EQ(a.Observe(second->text, {}).code(), StatusCode::kDataLoss);
    EXPECT_TRUE(a.alarmed());
  }
}

// SQLCipher's page HMAC does not bind a page to its version: an old page written back into the
// file is accepted. Whenever that changes what the audit tables say, verification catches it.
TEST_F(TamperTest, OlderEncryptedPageWrittenBack) {
  const auto old_copy = dir_ / "old.db";
  {
    auto db = OpenDb();
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  std::filesystem::copy_file(db_file_, old_copy);
  {
    auto log = OpenLogOrDie();
    AppendRange(*log, 100, 160);
  }
  {
    auto db = OpenDb();
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  const std::string old_bytes = ReadAll(old_copy);
  const std::string new_bytes = ReadAll(db_file_);
  constexpr size_t kPage = 4096;
  auto dump = [&](const std::filesystem::path& file) -> std::optional<std::string> {
    auto db = OpenDb(file);
    if (!db) return std::nullopt;
    std::string out;
    for (const char* sql : {"SELECT seq, encoded, leaf_hash, chain FROM audit_events ORDER BY seq",
                            "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx"}) {
      auto s = db->Prepare(sql);
      if (!s.ok()) return std::nullopt;
      for (;;) {
        auto row = s->Step();
        if (!row.ok()) return std::nullopt;
        if (!*row) break;
        out += std::to_string(s->ColumnInt(0)) + common::HexEncode(s->ColumnBlob(1)) +
               common::HexEncode(s->ColumnBlob(2)) + "\n";
      }
    }
    return out;
  };
  const auto reference = dump(db_file_);
  ASSERT_TRUE(reference.has_value());
  int content_changing_pages = 0;
  const auto work = dir_ / "work.db";
  for (size_t off = kPage; off + kPage <= old_bytes.size(); off += kPage) {  // page 1 is the header
    if (old_bytes.compare(off, kPage, new_bytes, off, kPage) == 0) continue;
    std::string patched = new_bytes;
    patched.replace(off, kPage, old_bytes, off, kPage);
    {
      std::ofstream out(work, std::ios::binary | std::ios::trunc);
      out << patched;
    }
    std::filesystem::remove(work.string() + "-wal");
    std::filesystem::remove(work.string() + "-shm");
    const auto seen = dump(work);
    if (seen == reference) continue;  // e.g. a free page or an index page of another table
    ++content_changing_pages;
    auto db = OpenDb(work);
    ASSERT_NE(db, nullptr);
    auto report = VerifyLog(*db, key_->Public(), {});
    EXPECT_TRUE(!report.ok() || !report->ok) << "page at offset " << off << " not caught";
    db.reset();
    auto log = AuditLog::Open(OpenDb(work), key_, clock_, Options());
    EXPECT_FALSE(log.ok()) << "start-up check missed the page at offset " << off;
  }
  EXPECT_GT(content_changing_pages, 0);
}

}  // namespace
}  // namespace mash::audit
