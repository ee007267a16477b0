// `mashctl audit …` end to end through RunMashctl: verify (database and export), query, subject,
// export (itself audited) and hash-subject, with their exit codes.
#include <gtest/gtest.h>

#include <sstream>

#include "audit_test_util.h"
#include "mash/cli/mashctl.h"
#include "mash/crypto/pseudonym.h"

namespace mash::audit {
namespace {

class MashctlAuditTest : public testing::AuditStoreTest {
 protected:
  void SetUp() override {
    AuditStoreTest::SetUp();
    pub_ = (dir_ / "checkpoint.pub").string();
    sec_ = (dir_ / "checkpoint.key").string();
    ps_key_ = (dir_ / "pseudonym.key").string();
    ASSERT_TRUE(
        crypto::WriteKeyFile(pub_, crypto::KeyKind::kSigningPublic, key_->Public().bytes).ok());
    ASSERT_TRUE(crypto::WriteKeyFile(sec_, crypto::KeyKind::kSigningSecret, key_->Seed()).ok());
    ASSERT_TRUE(crypto::WriteKeyFile(ps_key_, crypto::KeyKind::kPseudonymKey,
                                     crypto::GenerateSymmetricKey().span())
                    .ok());
    BuildLog(30);
  }
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return cli::RunMashctl(args, out_, err_);
  }
  std::vector<std::string> Db() const {
    return {"--db", db_file_.string(), "--db-key", db_key_file_.string()};
  }
  std::vector<std::string> Cmd(std::vector<std::string> head, std::vector<std::string> tail = {}) {
    for (const auto& a : Db()) head.push_back(a);
    for (const auto& a : tail) head.push_back(a);
    return head;
  }
  std::string pub_, sec_, ps_key_;
  std::ostringstream out_, err_;
};

TEST_F(MashctlAuditTest, VerifyPassesThenNamesTheFirstBadEntry) {
  EXPECT_EQ(Run(Cmd({"audit", "verify"}, {"--public-key", pub_})), 0) << err_.str();
  EXPECT_NE(out_.str().find("OK: 30 entries"), std::string::npos) << out_.str();
  {
    auto db = OpenDb();
    ASSERT_TRUE(db->Exec("DELETE FROM audit_events WHERE seq = 7").ok());
  }
  EXPECT_EQ(Run(Cmd({"audit", "verify"}, {"--public-key", pub_})), 1);
  EXPECT_NE(out_.str().find("first bad entry 7"), std::string::npos) << out_.str();
  EXPECT_EQ(Run(Cmd({"audit", "verify"}, {"--public-key", pub_, "--json"})), 1);
  auto j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["first_bad_entry"], 7);
  EXPECT_EQ(Run({"audit", "verify", "--public-key", pub_}), 2);  // neither --db nor --export
}

TEST_F(MashctlAuditTest, QueryAndSubjectFilterAndFormat) {
  EXPECT_EQ(Run(Cmd({"audit", "query"}, {"--subject", "ps1:subject3", "--json"})), 0) << err_.str();
  std::istringstream lines(out_.str());
  std::string line;
  std::vector<uint64_t> seqs;
  while (std::getline(lines, line)) seqs.push_back(nlohmann::json::parse(line)["seq"]);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 14, 25}));
  EXPECT_EQ(Run(Cmd({"audit", "query"}, {"--agency", "police", "--type", "category_withheld",
                                         "--csv", "--from", "2026-01-01"})),
            0);
  EXPECT_EQ(out_.str().rfind("seq,time,type", 0), 0u);
  EXPECT_EQ(Run(Cmd({"audit", "query"}, {"--type", "no_such_type"})), 2);
  EXPECT_EQ(Run(Cmd({"audit", "subject"}, {"--pseudonym", "ps1:subject4"})), 0);
  const std::string text = out_.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
}

TEST_F(MashctlAuditTest, HashSubjectMatchesThePseudonymiser) {
  ASSERT_EQ(Run({"audit", "hash-subject", "--pseudonym-key", ps_key_, "--kind", "nhs_number",
                 "--value", "943 476 5919"}),
            0)
      << err_.str();
  auto key = crypto::ReadKeyFile(ps_key_, crypto::KeyKind::kPseudonymKey);
  auto p = crypto::Pseudonymiser::Create(std::move(*key));
  EXPECT_EQ(out_.str(), p->Pseudonym("nhs_number", "943 476 5919") + "\n");
  EXPECT_EQ(out_.str().rfind("ps1:", 0), 0u);
  // The identifier itself never appears in the output.
  EXPECT_EQ(out_.str().find("9434765919"), std::string::npos);
}

TEST_F(MashctlAuditTest, ExportIsAuditedAndVerifiesOffline) {
  const std::string file = (dir_ / "export.jsonl").string();
  ASSERT_EQ(Run(Cmd({"audit", "export"}, {"--signing-key", sec_, "--person", "ig.officer1",
                                          "--origin", "mash-broker.test", "--out", file})),
            0)
      << err_.str();
  EXPECT_EQ(Run({"audit", "verify", "--export", file, "--public-key", pub_}), 0) << out_.str();
  EXPECT_NE(out_.str().find("OK: 31 entries"), std::string::npos) << out_.str();
  // The export event is in the log.
  EXPECT_EQ(Run(Cmd({"audit", "query"}, {"--type", "exported", "--json"})), 0);
  EXPECT_NE(out_.str().find("ig.officer1"), std::string::npos);
  // A wrong origin is refused before anything is written.
  EXPECT_EQ(Run(Cmd({"audit", "export"}, {"--signing-key", sec_, "--person", "x", "--out", file})),
            1);
}

}  // namespace
}  // namespace mash::audit
