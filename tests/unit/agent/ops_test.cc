// The operations commands' pure parts and their database side (ops.h, status.h, dial.h): proxy
// settings, live state, status, the disclosure-log reader, scrubbing and check-config. The
// network parts (test-connection, the proxy tunnel, diagnostics) are tests/integration/ops_test.cc.
#include "mash/agent/ops.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "agent_test_util.h"
#include "mash/agent/dial.h"
#include "mash/agent/status.h"
#include "mash/common/private_file.h"

namespace mash::agent::testing {
namespace {

using json = nlohmann::json;

TEST(ProxyUrlTest, AcceptsHostAndPortOnly) {
  auto p = ParseProxyUrl("http://proxy.example:3128");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->host, "proxy.example");
  EXPECT_EQ(p->port, 3128);
  auto d = ParseProxyUrl("http://10.0.0.1/");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 3128);
  for (const char* bad :
       {"https://proxy:3128", "proxy:3128", "http://user:pw@proxy:3128", "http://proxy:3128/path",
        "http://proxy:0", "http://proxy:99999", "http://", "http://pro xy:1"}) {
    EXPECT_FALSE(ParseProxyUrl(bad).ok()) << bad;
  }
  // A URL with credentials is refused without repeating them.
  auto creds = ParseProxyUrl("http://alice:s3cret@proxy:3128");
  EXPECT_EQ(creds.status().message().find("s3cret"), std::string::npos);
}

class OpsConfigTest : public AgentTest {
 protected:
  std::filesystem::path WriteToml(const std::string& extra_broker, const std::string& rest) {
    std::string head = AgentTomlHead();
    const std::string anchor = "enc_public_key = \"keys/hub.enc.pub\"\n";
    head.insert(head.find(anchor) + anchor.size(), extra_broker);
    const auto path = dir_ / "agent.toml";
    std::ofstream(path) << head << rest;
    return path;
  }
  std::string Tail() const {
    return "\n[records]\nfixture = \"" + ExampleRecords("police").string() +
           "\"\n\n[policy]\nfile = \"" + ExamplePolicy("police-disclosure.toml").string() +
           "\"\n\n[audit]\nlog_public_key = \"keys/hub.audit.pub\"\n";
  }
};

TEST_F(OpsConfigTest, ProxyKeysAreReadAndTheirProblemsPositioned) {
  auto ok = LoadAgentConfig(WriteToml(
      "proxy = \"http://proxy.example:8080\"\nproxy_credentials = \"keys/proxy.cred\"\n", Tail()));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(ok->proxy.has_value());
  EXPECT_EQ(ok->proxy->host, "proxy.example");
  EXPECT_EQ(ok->proxy->port, 8080);
  EXPECT_EQ(ok->proxy_credentials, dir_ / "keys/proxy.cred");

  auto bad = LoadAgentConfig(WriteToml("proxy = \"https://proxy.example\"\n", Tail()));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("agent.toml:10:"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("must start with http://"), std::string::npos);

  auto orphan = LoadAgentConfig(WriteToml("proxy_credentials = \"keys/proxy.cred\"\n", Tail()));
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("agent.toml:10:"), std::string::npos);
  EXPECT_NE(orphan.status().message().find("needs broker.proxy"), std::string::npos);
}

TEST_F(OpsConfigTest, ProxyCredentialsComeFromAPrivateFileAndAreNeverQuoted) {
  const auto file = dir_ / "proxy.cred";
  ASSERT_TRUE(common::WritePrivateFile(file, "agent-police:Tr0ub4dor&3\n", false).ok());
  auto auth = LoadProxyAuthorization(file);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ(*auth, "Basic " + common::Base64Encode(common::AsBytes("agent-police:Tr0ub4dor&3")));

  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto loose = LoadProxyAuthorization(file);
  EXPECT_EQ(loose.status().code(), StatusCode::kFailedPrecondition);

  const auto no_colon = dir_ / "nocolon.cred";
  ASSERT_TRUE(common::WritePrivateFile(no_colon, "Tr0ub4dor&3\n", false).ok());
  auto bad = LoadProxyAuthorization(no_colon);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("Tr0ub4dor"), std::string::npos);
  EXPECT_EQ(LoadProxyAuthorization(dir_ / "missing.cred").status().code(), StatusCode::kNotFound);
}

TEST_F(OpsConfigTest, CheckConfigPositionsEveryProblemAtTheKeyThatNamesTheFile) {
  // The TLS files do not exist, the signing key is readable by others, the proxy credentials
  // file is missing and the policy file does not exist: each is reported, none stops the rest.
  ASSERT_EQ(::chmod((keys_ / "police.sign.key").c_str(), 0644), 0);
  std::string tail = Tail();
  tail.replace(tail.find("police-disclosure.toml"), std::string("police-disclosure.toml").size(),
               "no-such-policy.toml");
  const auto path = WriteToml(
      "proxy = \"http://proxy.example:8080\"\nproxy_credentials = \"keys/proxy.cred\"\n", tail);
  const auto problems = CheckConfig(path, kStart);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  const std::regex positioned("^.*agent\\.toml:[0-9]+:[0-9]+: [a-z_.]+: .+$");
  for (const auto& p : problems) EXPECT_TRUE(std::regex_match(p, positioned)) << p;
  for (const char* key :
       {": tls.cert: ", ": keys.sign: ", ": broker.proxy_credentials: ", ": policy.file: "}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " missing in:\n" << all;
  }
  // keys.sign is on line 21 of the file (AgentTomlHead plus the two proxy lines).
  EXPECT_NE(all.find("agent.toml:21:"), std::string::npos) << all;
  EXPECT_NE(all.find("chmod 600"), std::string::npos) << all;
}

TEST_F(OpsConfigTest, CheckConfigReportsFileProblemsBesideTheConfigFilesOwn) {
  // A bad proxy URL (the file's own problem) and a loose signing key (a named file's): both.
  ASSERT_EQ(::chmod((keys_ / "police.sign.key").c_str(), 0640), 0);
  const auto path = WriteToml("proxy = \"https://proxy.example\"\n", Tail());
  const auto problems = CheckConfig(path, kStart);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("agent.toml:10:"), std::string::npos) << all;
  EXPECT_NE(all.find("must start with http://"), std::string::npos) << all;
  EXPECT_NE(all.find("agent.toml:20:"), std::string::npos) << all;
  EXPECT_NE(all.find(": keys.sign: "), std::string::npos) << all;
}

TEST_F(OpsConfigTest, CheckConfigReportsEverySyntaxProblemOfTheFile) {
  const auto path = WriteToml("proxy = \"ftp://x\"\nbogus = 1\n", "");
  const auto problems = CheckConfig(path, kStart);
  ASSERT_GE(problems.size(), 3u);  // proxy, unknown key, missing [records]/[policy]/[audit]
  for (const auto& p : problems) {
    EXPECT_TRUE(std::regex_search(p, std::regex("agent\\.toml:[0-9]+:[0-9]+: "))) << p;
  }
}

TEST(ScrubLogLineTest, KeepsEventsCodesAndCountsAndDropsEverythingElse) {
  const auto kept = ScrubLogLine(
      R"x({"ts":"2026-11-22T10:00:00.000Z","level":"warn","service":"mash-agent",)x"
      R"x("event":"broker.connection_failed","step":"proxy","error":"the proxy refused (403)",)x"
      R"x("given_names":"Amelia","dob":"2015-03-09","nhs_number":"9434765919","proxy_status":403})x");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ((*kept)["event"], "broker.connection_failed");
  EXPECT_EQ((*kept)["step"], "proxy");
  EXPECT_EQ((*kept)["proxy_status"], 403);
  const std::string text = kept->dump();
  for (const char* secret : {"Amelia", "2015-03-09", "9434765919", "given_names", "dob"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  EXPECT_FALSE(ScrubLogLine("Amelia Jones 2015-03-09").has_value());
  EXPECT_FALSE(ScrubLogLine("[1,2]").has_value());
  const auto long_error = ScrubLogLine(R"({"event":"x","error":")" + std::string(500, 'e') + "\"}");
  EXPECT_LT((*long_error)["error"].get<std::string>().size(), 210u);
}

TEST(ParseSinceTest, DatesAndTimesInUtc) {
  EXPECT_EQ(*ParseSince("2026-11-22"), 1795305600);
  EXPECT_EQ(*ParseSince("2026-11-22T10:00:00Z"), kStart);
  for (const char* bad :
       {"22/11/2026", "2026-13-01", "2026-02-30", "2026-11-22T25:00:00Z", "2026-11-22 10:00", ""}) {
    EXPECT_FALSE(ParseSince(bad).ok()) << bad;
  }
}

class OpsStatusTest : public AgentTest {};

TEST_F(OpsStatusTest, LiveStateFollowsTheAgentThroughStartQueriesAndStop) {
  auto responder = MakeResponder();
  ASSERT_NE(responder, nullptr);
  auto store = AgentStatusStore::Open(Config(), *clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  (*store)->RecordStart(::getpid(), "sha256:enforced", "");
  clock_->Advance(std::chrono::seconds(5));
  (*store)->OnConnected();
  clock_->Advance(std::chrono::seconds(60));
  (*store)->OnQuery();
  Ask(*responder, 2);
  (*store)->OnAnswerSent();

  json s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["agent"]["running"], true) << s.dump(2);
  EXPECT_EQ(s["agent"]["pid"], ::getpid());
  EXPECT_EQ(s["connection"]["connected"], true);
  EXPECT_EQ(s["connection"]["since"], common::FormatRfc3339(common::FromUnix(kStart + 5)));
  EXPECT_EQ(s["queries"]["last_received_at"], common::FormatRfc3339(common::FromUnix(kStart + 65)));
  EXPECT_EQ(s["queries"]["received_since_start"], 1);
  EXPECT_EQ(s["queries"]["answers_sent_since_start"], 1);
  EXPECT_EQ(s["queries"]["answers_logged"], 1);
  EXPECT_EQ(s["queries"]["receipts_held"], 0);
  EXPECT_EQ(s["policy"]["in_force"], "sha256:enforced");
  EXPECT_EQ(s["policy"]["configured"], responder->policies().enforced().version);
  EXPECT_EQ(s["witness"]["alarm"], false);
  EXPECT_TRUE(s["certificate"].contains("error"));  // the unit fixture has no TLS files
  EXPECT_EQ(StatusExitCode(s), kExitOk);
  const std::string text = FormatStatus(s);
  EXPECT_NE(text.find("connected since"), std::string::npos) << text;
  EXPECT_NE(text.find("sha256:enforced in force"), std::string::npos) << text;

  (*store)->OnDisconnected();
  s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["connection"]["connected"], false);
  EXPECT_EQ(StatusExitCode(s), kExitFailed);
  (*store)->RecordStop();
  s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["agent"]["running"], false);
  EXPECT_NE(FormatStatus(s).find("NOT RUNNING (stopped"), std::string::npos);
}

TEST_F(OpsStatusTest, ChasesAreCountedWithTheLatestTime) {
  auto store = AgentStatusStore::Open(Config(), *clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  (*store)->RecordStart(::getpid(), "sha256:enforced", "");
  json s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["chases"]["received_since_start"], 0) << s.dump(2);
  EXPECT_TRUE(s["chases"]["last_received_at"].is_null());
  EXPECT_NE(FormatStatus(s).find("hub chases   none since start"), std::string::npos)
      << FormatStatus(s);
  clock_->Advance(std::chrono::seconds(10));
  (*store)->OnChase(true);
  clock_->Advance(std::chrono::seconds(10));
  (*store)->OnChase(true);
  clock_->Advance(std::chrono::seconds(10));
  (*store)->OnChase(false);  // refused: counted apart, the latest time stays
  s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["chases"]["received_since_start"], 2) << s.dump(2);
  EXPECT_EQ(s["chases"]["refused_since_start"], 1);
  const std::string latest = common::FormatRfc3339(common::FromUnix(kStart + 20));
  EXPECT_EQ(s["chases"]["last_received_at"], latest);
  EXPECT_NE(
      FormatStatus(s).find("hub chases   2 since start, the latest " + latest + "; 1 REFUSED"),
      std::string::npos)
      << FormatStatus(s);
  // A new run starts counting again.
  (*store)->RecordStart(::getpid(), "sha256:enforced", "");
  s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["chases"]["received_since_start"], 0);
  EXPECT_EQ(s["chases"]["refused_since_start"], 0);
}

TEST_F(OpsStatusTest, AnAgentThatDiedIsNotRunningOrConnected) {
  auto store = AgentStatusStore::Open(Config(), *clock_);
  ASSERT_TRUE(store.ok());
  // A pid that certainly no longer exists: a child that has been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  (*store)->RecordStart(child, "sha256:v", "");
  (*store)->OnConnected();
  const json s = CollectStatus(Config(), clock_->NowUnix());
  EXPECT_EQ(s["agent"]["running"], false);
  EXPECT_EQ(s["connection"]["connected"], false);
  EXPECT_NE(FormatStatus(s).find("did not stop cleanly"), std::string::npos);
}

TEST_F(OpsStatusTest, StatusShowsTheWitnessAlarmAndCountsCategoriesAwaitingReview) {
  auto responder = MakeResponder();
  ASSERT_NE(responder, nullptr);
  // Police policy: intelligence goes to the custodian (review) at level 2.
  const auto answer = Ask(*responder, 2);
  int review = 0;
  for (const auto& c : answer.body.categories) review += c.outcome == "review";
  ASSERT_GT(review, 0) << "the example police policy should route a category to review";
  {
    auto db = storage::Database::Open({Config().database, Config().database_key});
    ASSERT_TRUE(db.ok());
    auto log = DisclosureLog::Create(db->get());
    ASSERT_TRUE((*log)->RaiseAlarm({kStart, "two roots for size 7", "held", "presented", {}}).ok());
  }
  json s = CollectStatus(Config(), kStart);
  EXPECT_EQ(s["review_queue"]["awaiting"], review) << s.dump(2);
  EXPECT_EQ(s["review_queue"]["items"], 1);
  EXPECT_EQ(s["witness"]["alarm"], true);
  EXPECT_EQ(s["witness"]["reason"], "two roots for size 7");
  EXPECT_EQ(StatusExitCode(s), kExitFailed);
  ASSERT_TRUE(CountAwaitingReview(Config()).ok());
  EXPECT_EQ(CountAwaitingReview(Config())->categories, review);
  EXPECT_EQ(CountAwaitingReview(Config())->items, 1);
  EXPECT_NE(FormatStatus(s).find("ALARM raised"), std::string::npos);
  EXPECT_NE(FormatStatus(s).find(std::to_string(review) + " categories of 1 answers awaiting"),
            std::string::npos)
      << FormatStatus(s);

  // The count is the queue's: a category the custodian has decided no longer waits, though the
  // answer in the disclosure log still marks it `review`.
  std::string first;
  for (const auto& c : answer.body.categories) {
    if (c.outcome == "review" && first.empty()) first = c.category;
  }
  ReviewDecision d;
  d.kind = ReviewDecision::Kind::kDecline;
  d.category = first;
  d.reason = "not proportionate";
  d.by = "c.custodian";
  auto decided = DecideReview(Config(), 1, d, kStart + 60);
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  s = CollectStatus(Config(), kStart + 60);
  EXPECT_EQ(s["review_queue"]["awaiting"], review - 1) << s.dump(2);
  EXPECT_EQ(s["review_queue"]["items"], review > 1 ? 1 : 0);
}

TEST_F(OpsStatusTest, WithoutADatabaseStatusSaysSoInsteadOfFailing) {
  const json s = CollectStatus(Config(), kStart);
  EXPECT_TRUE(s["agent"].contains("error"));
  EXPECT_EQ(StatusExitCode(s), kExitFailed);
  EXPECT_NE(FormatStatus(s).find("UNKNOWN"), std::string::npos);
}

TEST_F(OpsStatusTest, DisclosureLogReaderFiltersByCheckAndDateAndShowsNoSubject) {
  auto responder = MakeResponder();
  ASSERT_NE(responder, nullptr);
  Ask(*responder, 2);
  clock_->Advance(std::chrono::hours(48));
  Ask(*responder, 1, Why{}, {"domestic_abuse"});
  ASSERT_TRUE(responder->Answer(Query(2, Why{}, {}, "1111111111")).ok());  // not held

  auto all = ReadDisclosureLog(Config(), {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["count"], 3);
  const json& first = (*all)["entries"][0];
  EXPECT_EQ(first["held"], true);
  EXPECT_EQ(first["purpose"], "child-protection-s47");
  EXPECT_TRUE(first["receipt"].is_null());
  EXPECT_FALSE(first["categories"].empty());
  EXPECT_EQ((*all)["entries"][2]["held"], false);

  auto since = ReadDisclosureLog(Config(), {kStart + 3600, "", 1000});
  ASSERT_TRUE(since.ok());
  EXPECT_EQ((*since)["count"], 2);
  const std::string check = (*all)["entries"][1]["check_ref"];
  auto one = ReadDisclosureLog(Config(), {0, check, 1000});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ((*one)["count"], 1);
  EXPECT_EQ((*one)["entries"][0]["categories"][0]["category"], "domestic_abuse");
  auto newest = ReadDisclosureLog(Config(), {0, "", 1});
  EXPECT_EQ((*newest)["entries"][0]["held"], false);

  const std::string text = FormatDisclosureLog(*all);
  EXPECT_NE(text.find("check " + check), std::string::npos) << text;
  EXPECT_NE(text.find("not held: nothing released"), std::string::npos) << text;
  EXPECT_NE(text.find("receipt: none held"), std::string::npos) << text;
  // The log holds no subject: the identifiers asked about appear nowhere.
  for (const std::string& s : {text, all->dump()}) {
    EXPECT_EQ(s.find("9434765919"), std::string::npos);
    EXPECT_EQ(s.find("1111111111"), std::string::npos);
  }
  EXPECT_NE(FormatDisclosureLog(*ReadDisclosureLog(Config(), {0, "no-such-check", 10}))
                .find("no answers"),
            std::string::npos);
}

TEST_F(OpsStatusTest, LogShowsTheCustodiansDecisionsBesideTheDisclosures) {
  auto responder = MakeResponder();
  ASSERT_NE(responder, nullptr);
  const auto answer = Ask(*responder, 2);
  std::string first;
  for (const auto& c : answer.body.categories) {
    if (c.outcome == "review" && first.empty()) first = c.category;
  }
  ASSERT_FALSE(first.empty()) << "the example police policy should route a category to review";
  auto none = ReadDisclosureLog(Config(), {});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ((*none)["decision_count"], 0);
  EXPECT_EQ(FormatDisclosureLog(*none).find("custodian decisions"), std::string::npos);

  ReviewDecision d;
  d.kind = ReviewDecision::Kind::kDecline;
  d.category = first;
  d.reason = "not proportionate";
  d.by = "c.custodian";
  ASSERT_TRUE(DecideReview(Config(), 1, d, kStart + 60).ok());

  auto log = ReadDisclosureLog(Config(), {});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ((*log)["count"], 1);
  ASSERT_EQ((*log)["decision_count"], 1) << log->dump(2);
  const json& row = (*log)["decisions"][0];
  EXPECT_EQ(row["time"], common::FormatRfc3339(common::FromUnix(kStart + 60)));
  EXPECT_EQ(row["check_ref"], (*log)["entries"][0]["check_ref"]);
  EXPECT_EQ(row["category"], first);
  EXPECT_EQ(row["decision"], "declined");
  EXPECT_EQ(row["by"], "c.custodian");
  EXPECT_EQ(row["reason"], "not proportionate");
  const std::string text = FormatDisclosureLog(*log);
  EXPECT_NE(text.find("custodian decisions:"), std::string::npos) << text;
  EXPECT_NE(text.find(first + ": declined by c.custodian: not proportionate"), std::string::npos)
      << text;
  // No subject in the decisions either.
  EXPECT_EQ(log->dump().find("9434765919"), std::string::npos);

  // The same filters as the answers.
  EXPECT_EQ((*ReadDisclosureLog(Config(), {kStart + 61, "", 1000}))["decision_count"], 0);
  const std::string check = (*log)["entries"][0]["check_ref"];
  EXPECT_EQ((*ReadDisclosureLog(Config(), {0, check, 1000}))["decision_count"], 1);
  auto other = ReadDisclosureLog(Config(), {0, "no-such-check", 10});
  EXPECT_EQ((*other)["decision_count"], 0);
}

}  // namespace
}  // namespace mash::agent::testing
