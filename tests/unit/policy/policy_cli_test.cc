// `mashctl policy …` end to end, without a process: a DPO's whole flow and its exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mash/cli/mashctl.h"
#include "support/temp_dir.h"

namespace mash::cli {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int rc;
  std::string out;
  std::string err;
};

CliRun Mashctl(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = RunMashctl(args, out, err);
  return {rc, out.str(), err.str()};
}

const std::string kExamples = std::string(MASH_SOURCE_DIR) + "/examples/policies/";

TEST(PolicyCliTest, ValidateReportsPositionsAndExitsOne) {
  testing::TempDir dir;
  const auto bad = (dir / "bad.toml").string();
  std::ofstream(bad) << "kind = \"disclosure-policy\"\nid = \"x\"\nowner = \"o\"\n"
                        "review_date = 2030-01-01\nagency_type = \"pirates\"\n";
  CliRun r = Mashctl({"policy", "validate", bad});
  EXPECT_EQ(r.rc, kExitCheckFailed);
  EXPECT_THAT(r.err, HasSubstr(bad + ":5:15: error: unknown agency type 'pirates'"));
  r = Mashctl({"policy", "validate", kExamples + "hub-agreement.toml", "--now", "2026-11-22"});
  EXPECT_EQ(r.rc, kExitOk) << r.err;
  r = Mashctl(
      {"policy", "validate", kExamples + "hub-agreement.toml", "--now", "2028-01-01", "--strict"});
  EXPECT_EQ(r.rc, kExitCheckFailed);
  EXPECT_THAT(r.err, HasSubstr("overdue for review"));
  EXPECT_EQ(Mashctl({"policy", "validate", (dir / "missing.toml").string()}).rc, kExitUsage);
}

TEST(PolicyCliTest, TestFailsWhenACaseFails) {
  testing::TempDir dir;
  const auto tests = (dir / "t.tests.toml").string();
  std::ofstream(tests) << "at = 2026-11-22T10:00:00Z\n[[case]]\nname = \"wrong\"\n"
                          "request = { purpose = \"marac\", role = \"practitioner\", "
                          "agency = \"police\", consent = \"given\" }\n"
                          "expect = { effect = \"permit\" }\n";
  CliRun r = Mashctl({"policy", "test", kExamples + "hub-agreement.toml", "--tests", tests});
  EXPECT_EQ(r.rc, kExitCheckFailed);
  EXPECT_THAT(r.out, HasSubstr("FAIL " + tests + ":2:1: wrong"));
  EXPECT_THAT(r.out, HasSubstr("expected permit, got deny"));
  r = Mashctl({"policy", "test", kExamples + "hub-agreement.toml", "--coverage", "--json"});
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"uncovered_rules\": []"));
}

TEST(PolicyCliTest, SignPublishExplainAtAndRefusals) {
  testing::TempDir dir;
  const std::string d = dir.path().string();
  ASSERT_EQ(Mashctl({"pki", "keygen", "--dir", d + "/keys", "--name", "dpo"}).rc, 0);
  ASSERT_EQ(Mashctl({"pki", "keygen", "--dir", d + "/keys", "--name", "other"}).rc, 0);
  std::filesystem::copy_file(kExamples + "hub-agreement.toml", d + "/hub.toml");
  CliRun r = Mashctl({"policy", "sign", d + "/hub.toml", "--key", d + "/keys/dpo.sign.key"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string bundle = d + "/hub.bundle.json";
  const std::string pub = d + "/keys/dpo.sign.pub";
  EXPECT_EQ(Mashctl({"policy", "verify", bundle, "--trusted-key", pub}).rc, kExitOk);
  EXPECT_EQ(Mashctl({"policy", "verify", bundle, "--trusted-key", d + "/keys/other.sign.pub"}).rc,
            kExitCheckFailed);
  // Unsigned sources are refused once keys are given; publishing needs keys or --allow-unsigned.
  const std::string store = d + "/store";
  EXPECT_EQ(Mashctl({"policy", "publish", d + "/hub.toml", "--store", store, "--mode", "enforce",
                     "--trusted-key", pub})
                .rc,
            kExitUsage);
  EXPECT_EQ(Mashctl({"policy", "publish", bundle, "--store", store, "--mode", "enforce"}).rc,
            kExitUsage);
  r = Mashctl({"policy", "publish", bundle, "--store", store, "--mode", "enforce", "--trusted-key",
               pub, "--at", "2026-11-01T00:00:00Z"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = Mashctl({"policy", "history", "--store", store, "--json"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("\"mode\": \"enforce\""));
  const std::vector<std::string> request = {
      "--role",        "practitioner", "--purpose", "early-help", "--lawful-basis",
      "uk-gdpr-6-1-a", "--consent",    "given",     "--urgency",  "green",
      "--agency",      "police",       "--level",   "1",          "--json"};
  std::vector<std::string> args = {
      "policy", "explain", "--store", store, "--at", "2026-11-02T00:00:00Z", "--trusted-key", pub};
  args.insert(args.end(), request.begin(), request.end());
  r = Mashctl(args);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"deciding_rule\": \"early-help-not-police-probation\""));
  args[5] = "2026-10-01T00:00:00Z";  // before anything was enforced
  EXPECT_EQ(Mashctl(args).rc, kExitUsage);
}

}  // namespace
}  // namespace mash::cli
