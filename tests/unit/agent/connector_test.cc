// The command connector runs the agency's program for each query and fails closed on every way a
// program can misbehave: it crashes, hangs, prints garbage or gigabytes, ignores its stdin, closes
// its stdout early, floods its stderr, or is missing. Each call ends within its timeout, leaves no
// process behind, and keeps no more than the output limit in memory. The Responder answers
// `unavailable` when the connector fails, and never releases a possible match automatically.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "agent_test_util.h"
#include "mash/agent/command_connector.h"
#include "mash/agent/config.h"
#include "mash/agent/records.h"

namespace mash::agent::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kGoodOutput =
    R"({"matches": [{"identifiers": {"nhs_number": "943 476 5919"},
  "categories": {"domestic_abuse": {"summary": "Two incidents.", "latest": "2026-10-30",
                   "records": [{"date": "2026-06-02", "third_party_names": "Sam Example"}]},
                 "intelligence": {"summary": "One report."}}}]})";

// True while `pid` is a live process (not gone, not a zombie waiting for its parent).
bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  const char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

// Waits up to a second for `pid` to be gone (a SIGKILL is delivered asynchronously).
bool GoneSoon(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (!Running(pid)) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

// The connector's own child is reaped: it is not our child any more.
bool Reaped(pid_t pid) {
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD;
}

long MaxRssKb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class ConnectorTest : public AgentTest {
 protected:
  // Writes an executable /bin/sh script; `body` may use $DIR for the test's directory.
  std::filesystem::path Script(const std::string& name, const std::string& body) {
    const auto path = dir_ / name;
    WriteFile(path, "#!/bin/sh\nDIR='" + dir_.path().string() + "'\n" + body + "\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  std::unique_ptr<CommandConnector> Connector(const std::filesystem::path& program,
                                              milliseconds timeout = milliseconds(5000),
                                              size_t max_output = 4 * 1024 * 1024) {
    CommandOptions o;
    o.argv = {program.string()};
    o.timeout = timeout;
    o.max_output_bytes = max_output;
    auto c = CommandConnector::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static schemas::QueryBody SampleQuery() {
    schemas::QueryBody q;
    q.query_id = std::string(32, 'a');
    q.level = 2;
    q.subject.given_names = "Jamie";
    q.subject.family_name = "Example";
    q.subject.dob = "2015-03-04";
    q.subject.identifiers["nhs_number"] = "9434765919";
    schemas::Person parent;
    parent.given_names = "Alex";
    parent.family_name = "Example";
    q.household.push_back(parent);
    q.categories = {"domestic_abuse"};
    return q;
  }
  static QueryContext Context() { return {"chk-0001", "child-protection-s47"}; }

  Result<std::vector<SourceMatch>> Run(CommandConnector& c) {
    return c.Find(SampleQuery(), Context());
  }

  // Runs `c`, expects `code` within `within`, and that the program was reaped. Returns the
  // error message.
  std::string ExpectFailure(CommandConnector& c, StatusCode code, milliseconds within) {
    const auto start = SteadyClock::now();
    auto r = Run(c);
    const auto took = SteadyClock::now() - start;
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_LT(took, within);
    EXPECT_TRUE(Reaped(c.last_pid()));
    EXPECT_FALSE(Running(c.last_pid()));
    return r.status().message();
  }
};

TEST_F(ConnectorTest, WritesTheQueryAndReadsTheMatches) {
  auto c = Connector(Script(
      "good.sh", "cat > \"$DIR/input.json\"\ncat <<'EOF'\n" + std::string(kGoodOutput) + "\nEOF"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  const SourceMatch& m = r->front();
  // No band given: confirmed because the NHS number agrees (normalised).
  EXPECT_EQ(m.match, "confirmed");
  EXPECT_THAT(m.matched_on, ElementsAre("nhs_number"));
  EXPECT_EQ(m.record.identifiers.at("nhs_number"), "9434765919");
  ASSERT_EQ(m.record.categories.size(), 2u);
  const auto& da = m.record.categories.at("domestic_abuse");
  EXPECT_EQ(da.summary, "Two incidents.");
  EXPECT_EQ(da.latest, "2026-10-30");
  EXPECT_EQ(da.records.size(), 1u);
  EXPECT_TRUE(m.record.categories.at("intelligence").records.empty());
  EXPECT_EQ(c->source(), "good.sh");
  EXPECT_TRUE(Reaped(c->last_pid()));

  // The input: one JSON object with why and about whom, nothing else.
  const auto input = nlohmann::json::parse(ReadFile(dir_ / "input.json"), nullptr, false);
  ASSERT_TRUE(input.is_object());
  EXPECT_EQ(input["version"], 1);
  EXPECT_EQ(input["check_ref"], "chk-0001");
  EXPECT_EQ(input["purpose"], "child-protection-s47");
  EXPECT_EQ(input["level"], 2);
  EXPECT_EQ(input["categories"], nlohmann::json::array({"domestic_abuse"}));
  EXPECT_EQ(input["subject"]["identifiers"]["nhs_number"], "9434765919");
  EXPECT_EQ(input["subject"]["family_name"], "Example");
  EXPECT_EQ(input["household"].size(), 1u);
  EXPECT_EQ(input["household"][0]["given_names"], "Alex");
  EXPECT_EQ(input.size(), 7u);
  const std::string text = input.dump();
  for (const char* secret : {"key", "envelope", "sig", "nonce"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret)));
  }
}

TEST_F(ConnectorTest, KeepsTheProgramsOwnBandAndFields) {
  auto c = Connector(Script("band.sh", R"(cat >/dev/null
echo '{"matches": [{"match": "possible", "matched_on": ["family_name", "dob"],
  "categories": {"arrests": {"summary": "x"}}},
  {"match": "confirmed", "matched_on": ["pnc_id"]}]}')"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].match, "possible");
  EXPECT_THAT((*r)[0].matched_on, ElementsAre("family_name", "dob"));
  EXPECT_EQ((*r)[1].match, "confirmed");
  EXPECT_TRUE((*r)[1].record.categories.empty());
}

TEST_F(ConnectorTest, AMatchWithoutBandOrAgreeingIdentifierIsOnlyPossible) {
  auto c = Connector(Script(
      "noband.sh", R"(echo '{"matches": [{"identifiers": {"nhs_number": "4010232137"}}]}')"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().match, "possible");
  EXPECT_TRUE(r->front().matched_on.empty());

  auto none = Connector(Script("none.sh", R"(echo '{"matches": []}')"));
  auto empty = Run(*none);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
}

TEST_F(ConnectorTest, ProgramThatCrashesFails) {
  LogCapture logs;
  auto segv = Connector(Script("segv.sh", "echo '{\"matches\": []}'\nkill -SEGV $$"));
  EXPECT_THAT(ExpectFailure(*segv, StatusCode::kUnavailable, milliseconds(3000)),
              HasSubstr("killed by signal 11"));
  // A valid document followed by a failing exit is not an answer either.
  auto exit3 = Connector(Script("exit3.sh", "echo '{\"matches\": []}'\nexit 3"));
  EXPECT_THAT(ExpectFailure(*exit3, StatusCode::kUnavailable, milliseconds(3000)),
              HasSubstr("exited with status 3"));
  EXPECT_THAT(logs.Text(), HasSubstr("records.command_failed"));
  EXPECT_THAT(logs.Text(), HasSubstr("chk-0001"));
}

TEST_F(ConnectorTest, ProgramThatHangsIsKilledAtTheTimeoutWithEverythingItStarted) {
  // The shell waits on a sleep it started: both are in the program's process group.
  auto c = Connector(Script("hang.sh", "sleep 60 &\necho $! > \"$DIR/sleep.pid\"\nwait"),
                     milliseconds(500));
  ASSERT_TRUE(c);
  ExpectFailure(*c, StatusCode::kDeadlineExceeded, milliseconds(1500));
  const pid_t sleeper = std::stoi(ReadFile(dir_ / "sleep.pid"));
  EXPECT_TRUE(GoneSoon(sleeper));

  // A plain hang, with the default timeout: within timeout + 1 s.
  auto plain = Connector(Script("sleep.sh", "sleep 60"));
  ASSERT_TRUE(plain);
  ExpectFailure(*plain, StatusCode::kDeadlineExceeded, milliseconds(6000));
}

TEST_F(ConnectorTest, ProgramThatPrintsGarbageFailsWithoutLoggingIt) {
  LogCapture logs;
  for (const char* body :
       {"echo 'GARBAGE-MARKER not json {'", "printf ''", R"(echo '{"matches": []} GARBAGE-MARKER')",
        R"(echo '{"matches": [], "GARBAGE-MARKER": 1}')",
        R"(echo '{"matches": [{"categories": {"GARBAGE-MARKER": {}}}]}')",
        R"(printf '{"matches": [{"categories": {"x_y": {"summary": "\377\376"}}}]}')"}) {
    auto c = Connector(Script("garbage.sh", body));
    ASSERT_TRUE(c);
    ExpectFailure(*c, StatusCode::kInvalidArgument, milliseconds(3000));
  }
  EXPECT_THAT(logs.Text(), HasSubstr("records.command_failed"));
  EXPECT_THAT(logs.Text(), Not(HasSubstr("GARBAGE-MARKER")));
}

TEST_F(ConnectorTest, OutputIsValidatedStrictly) {
  const schemas::Person subject;
  const auto bad = [&](const std::string& text) {
    auto r = ParseCommandOutput(text, subject);
    return !r.ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(ParseCommandOutput(R"({"matches": []})", subject).ok());
  EXPECT_TRUE(bad("[]"));
  EXPECT_TRUE(bad("{}"));
  EXPECT_TRUE(bad(R"({"matches": {}})"));
  EXPECT_TRUE(bad(R"({"matches": [1]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"match": "likely"}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"matched_on": ["Not A Name"]}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"identifiers": {"nhs_number": 943}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"x": {}}}]})"));  // name too short
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": []}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"summary": 1}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"latest": "yesterday"}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"records": [1]}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"records": [{"a": [1]}]}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"records": [{"a": {}}]}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"other": 1}}}]})"));
  EXPECT_TRUE(bad(R"({"matches": [{"categories": {"abc": {"summary": ")" + std::string(4001, 'a') +
                  R"("}}}]})"));
  std::string many = R"({"matches": [)";
  for (size_t i = 0; i <= kMaxCommandMatches; ++i) many += (i ? ",{}" : "{}");
  EXPECT_TRUE(bad(many + "]}"));
  std::string records = R"({"matches": [{"categories": {"abc": {"records": [)";
  for (int i = 0; i <= 200; ++i) records += (i ? ",{}" : "{}");
  EXPECT_TRUE(bad(records + "]}}}]}"));
  // Deep nesting is refused before the parser sees it.
  EXPECT_TRUE(bad(std::string(100000, '[') + std::string(100000, ']')));
}

TEST_F(ConnectorTest, ProgramThatPrintsGigabytesIsKilledAtTheLimit) {
  const long rss_before = MaxRssKb();
  auto c = Connector(Script("yes.sh", "yes '{\"matches\": [' | head -c 3000000000"));
  ASSERT_TRUE(c);
  EXPECT_THAT(ExpectFailure(*c, StatusCode::kResourceExhausted, milliseconds(3000)),
              HasSubstr("4194304"));
  // An endless loop in the shell itself, with a small limit.
  auto loop =
      Connector(Script("loop.sh", "while :; do echo 0123456789; done"), milliseconds(5000), 1024);
  ASSERT_TRUE(loop);
  ExpectFailure(*loop, StatusCode::kResourceExhausted, milliseconds(3000));
  // Memory stayed bounded: the limit, not what was printed.
  EXPECT_LT(MaxRssKb() - rss_before, 64 * 1024);
}

TEST_F(ConnectorTest, ProgramThatIgnoresStdinStillAnswers) {
  auto c = Connector(Script("ignore.sh", "exec 0<&-\necho '{\"matches\": []}'"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(Reaped(c->last_pid()));
}

TEST_F(ConnectorTest, ProgramThatClosesStdoutEarlyFails) {
  // Half a document, then stdout closed: not an answer.
  auto half = Connector(Script("half.sh", "printf '{\"matches\": ['\nexec 1>&-\nsleep 0.2"));
  ASSERT_TRUE(half);
  ExpectFailure(*half, StatusCode::kInvalidArgument, milliseconds(3000));
  // stdout and stderr closed, still running: killed at the timeout.
  auto linger = Connector(Script("linger.sh", "exec 1>&- 2>&-\nsleep 60"), milliseconds(500));
  ASSERT_TRUE(linger);
  ExpectFailure(*linger, StatusCode::kDeadlineExceeded, milliseconds(1500));
}

TEST_F(ConnectorTest, HugeStderrIsDrainedAndOnlyCounted) {
  LogCapture logs;
  auto c = Connector(Script("stderr.sh",
                            "yes 'STDERR-PERSONAL-DATA' | head -c 20000000 >&2\n"
                            "echo '{\"matches\": []}'"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string text = logs.Text();
  EXPECT_THAT(text, HasSubstr("\"stderr_bytes\":20000000"));
  EXPECT_THAT(text, Not(HasSubstr("STDERR-PERSONAL-DATA")));
}

TEST_F(ConnectorTest, MissingProgramIsRefused) {
  CommandOptions o;
  o.argv = {(dir_ / "no-such-program").string()};
  EXPECT_EQ(CommandConnector::Create(o).status().code(), StatusCode::kNotFound);
  o.argv = {"relative/program"};
  EXPECT_EQ(CommandConnector::Create(o).status().code(), StatusCode::kInvalidArgument);
  o.argv = {};
  EXPECT_EQ(CommandConnector::Create(o).status().code(), StatusCode::kInvalidArgument);
  WriteFile(dir_ / "not-executable", "#!/bin/sh\n");
  o.argv = {(dir_ / "not-executable").string()};
  EXPECT_EQ(CommandConnector::Create(o).status().code(), StatusCode::kNotFound);

  // It was there at start and went away since.
  const auto path = Script("vanish.sh", "echo '{\"matches\": []}'");
  auto c = Connector(path);
  ASSERT_TRUE(c);
  std::filesystem::remove(path);
  auto r = Run(*c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(c->last_pid(), 0);  // nothing was started
}

TEST_F(ConnectorTest, ProgramGetsACleanEnvironmentAndNoOtherDescriptors) {
  ASSERT_EQ(::setenv("MASH_CONNECTOR_TEST_SECRET", "s3cret", 1), 0);
  // A descriptor opened without O_CLOEXEC, as a careless library might.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  auto c = Connector(Script("env.sh",
                            "env > \"$DIR/env.txt\"\n"
                            "if [ -e /proc/$$/fd/" +
                                std::to_string(leaky) +
                                " ]; then echo open; else echo closed; fi > "
                                "\"$DIR/fd.txt\"\n"
                                "echo '{\"matches\": []}'"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ::close(leaky);
  ::unsetenv("MASH_CONNECTOR_TEST_SECRET");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string env = ReadFile(dir_ / "env.txt");
  EXPECT_THAT(env, HasSubstr("PATH=/usr/local/bin:/usr/bin:/bin"));
  EXPECT_THAT(env, HasSubstr("LANG=C.UTF-8"));
  EXPECT_THAT(env, Not(HasSubstr("MASH_CONNECTOR_TEST_SECRET")));
  EXPECT_THAT(env, Not(HasSubstr("HOME=")));
  EXPECT_EQ(ReadFile(dir_ / "fd.txt"), "closed\n");
}

TEST_F(ConnectorTest, WhatTheProgramLeftRunningIsKilled) {
  auto c = Connector(Script("straggler.sh",
                            "sleep 60 >/dev/null 2>&1 &\n"
                            "echo $! > \"$DIR/sleep.pid\"\n"
                            "echo '{\"matches\": []}'"));
  ASSERT_TRUE(c);
  auto r = Run(*c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(GoneSoon(std::stoi(ReadFile(dir_ / "sleep.pid"))));
}

TEST_F(ConnectorTest, ConfigChoosesTheSource) {
  AgentConfig c = Config();  // the police fixture
  auto fixture = OpenRecordSource(c);
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  EXPECT_NE(dynamic_cast<FixtureRecords*>(fixture->get()), nullptr);
  auto found = (*fixture)->Find(SampleQuery(), Context());
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().match, "confirmed");
  EXPECT_THAT(found->front().matched_on, ElementsAre("nhs_number"));

  c.records_fixture.clear();
  c.records_command = {Script("lookup.sh", "echo '{\"matches\": []}'").string()};
  auto command = OpenRecordSource(c);
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_NE(dynamic_cast<CommandConnector*>(command->get()), nullptr);
  c.records_command = {(dir_ / "missing.sh").string()};
  EXPECT_EQ(OpenRecordSource(c).status().code(), StatusCode::kNotFound);
}

// --- The Responder with a command connector ---

class CommandResponderTest : public ConnectorTest {
 protected:
  AgentConfig CommandConfig(const std::filesystem::path& program) {
    AgentConfig c = Config();
    c.records_fixture.clear();
    c.records_command = {program.string()};
    c.records_command_timeout = milliseconds(1000);
    return c;
  }
};

TEST_F(CommandResponderTest, FailingConnectorYieldsUnavailable) {
  for (const char* body : {"exit 3", "sleep 60", "echo garbage", "yes"}) {
    auto r = MakeResponder(CommandConfig(Script("fail.sh", body)));
    ASSERT_TRUE(r);
    const auto start = SteadyClock::now();
    auto frame = r->Answer(Query(2));
    EXPECT_LT(SteadyClock::now() - start, milliseconds(2500)) << body;
    ASSERT_FALSE(frame.ok()) << body;
    EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << body;
  }
}

TEST_F(CommandResponderTest, AnswersFromTheProgramUnderThePolicy) {
  auto r = MakeResponder(CommandConfig(
      Script("good.sh", "cat >/dev/null\ncat <<'EOF'\n" + std::string(kGoodOutput) + "\nEOF")));
  ASSERT_TRUE(r);
  const auto a = Ask(*r, 2);
  EXPECT_TRUE(a.body.held);
  EXPECT_EQ(a.body.match, "confirmed");
  EXPECT_EQ(a.body.matched_on, std::vector<std::string>{"nhs_number"});
  EXPECT_EQ(a.body.source, "good.sh");
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "redacted");  // police policy: safeguarding-core redacts names
  EXPECT_EQ(da->summary, "Two incidents.");
}

TEST_F(CommandResponderTest, PossibleMatchIsNeverReleasedAutomatically) {
  auto r =
      MakeResponder(CommandConfig(Script("possible.sh", R"(echo '{"matches": [{"match": "possible",
  "matched_on": ["family_name"], "categories": {"domestic_abuse": {"summary": "Two incidents."}}}]}')")));
  ASSERT_TRUE(r);
  const auto a = Ask(*r, 2);
  EXPECT_TRUE(a.body.held);
  EXPECT_EQ(a.body.match, "possible");
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "review");
  EXPECT_TRUE(da->summary.empty());
  EXPECT_THAT(da->reason, HasSubstr("possible match"));

  // Two records for one subject are ambiguous: possible as well.
  auto two = MakeResponder(CommandConfig(Script("two.sh", R"(echo '{"matches": [
  {"match": "confirmed", "categories": {"domestic_abuse": {"summary": "A"}}},
  {"match": "confirmed", "categories": {"domestic_abuse": {"summary": "B"}}}]}')")));
  ASSERT_TRUE(two);
  const auto b = Ask(*two, 2);
  EXPECT_EQ(b.body.match, "possible");
  const auto* bda = Find(b.body, "domestic_abuse");
  ASSERT_NE(bda, nullptr);
  EXPECT_EQ(bda->outcome, "review");
  EXPECT_TRUE(bda->summary.empty());
}

// --- [records] in agent.toml ---

class RecordsConfigTest : public AgentTest {
 protected:
  Result<AgentConfig> Load(const std::string& records) {
    const auto path = dir_ / "agent.toml";
    WriteFile(path, AgentTomlHead() + R"(
[policy]
file = "police-disclosure.toml"

[audit]
log_public_key = "keys/hub.audit.pub"

[records]
)" + records);
    return LoadAgentConfig(path);
  }
};

TEST_F(RecordsConfigTest, ReadsTheCommandConnector) {
  auto c = Load(R"(command = ["/opt/rms/lookup", "--json"]
command_timeout_ms = 2500
command_max_output_bytes = 65536
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->records_command, (std::vector<std::string>{"/opt/rms/lookup", "--json"}));
  EXPECT_EQ(c->records_command_timeout, milliseconds(2500));
  EXPECT_EQ(c->records_command_max_output_bytes, 65536u);
  EXPECT_TRUE(c->records_fixture.empty());

  auto defaults = Load("command = [\"/opt/rms/lookup\"]\n");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->records_command_timeout, milliseconds(5000));
  EXPECT_EQ(defaults->records_command_max_output_bytes, 4u * 1024 * 1024);

  auto fixture = Load("fixture = \"police.json\"\n");
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  EXPECT_EQ(fixture->records_fixture, dir_.path() / "police.json");
  EXPECT_TRUE(fixture->records_command.empty());
}

TEST_F(RecordsConfigTest, NeedsExactlyOneSourceAndAnAbsoluteProgram) {
  const auto fails = [&](const std::string& records, const std::string& says) {
    auto c = Load(records);
    ASSERT_FALSE(c.ok()) << records;
    EXPECT_THAT(c.status().message(), HasSubstr(says)) << records;
    EXPECT_THAT(c.status().message(), HasSubstr("agent.toml:")) << records;
  };
  fails("fixture = \"p.json\"\ncommand = [\"/bin/true\"]\n",
        "exactly one of fixture, command and store");
  fails("", "exactly one of fixture, command and store");
  fails("command = []\n", "at least the program");
  fails("command = [\"lookup.sh\"]\n", "absolute path");
  fails("command = \"/bin/true\"\n", "records.command");
  fails("fixture = \"p.json\"\ncommand_timeout_ms = 100\n", "needs records.command");
  fails("command = [\"/bin/true\"]\ncommand_timeout_ms = 0\n", "command_timeout_ms");
}

// --- [ops] in agent.toml ---

TEST_F(RecordsConfigTest, ReadsTheOpsListenerOnLoopbackOnly) {
  const std::string records = "fixture = \"records.json\"\n";
  auto none = Load(records);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->ops_listen.has_value());
  auto c = Load(records + "\n[ops]\nlisten = \"127.0.0.1:9465\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->ops_listen.has_value());
  EXPECT_EQ(c->ops_listen->ToString(), "127.0.0.1:9465");
  auto v6 = Load(records + "\n[ops]\nlisten = \"[::1]:9465\"\n");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  for (const char* bad : {"0.0.0.0:9465", "192.168.0.5:9465", "localhost:9465", "[::]:9465"}) {
    auto r = Load(records + "\n[ops]\nlisten = \"" + bad + "\"\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("agent.toml:")) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("ops.listen")) << bad;
  }
  auto typo = Load(records + "\n[ops]\nlisten = \"127.0.0.1:9465\"\nlisen = 1\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("lisen"));
}

}  // namespace
}  // namespace mash::agent::testing
