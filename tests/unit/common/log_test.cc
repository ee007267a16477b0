#include "mash/common/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace mash::common {
namespace {

// Sends the process logger to stderr (not stdout, which the test runner reads) and captures
// every line in `lines_`.
class LogTest : public ::testing::Test {
 protected:
  // The captured stream dies with the fixture: leave a logger that does not point at it.
  void TearDown() override {
    LogOptions options;
    options.to_stderr = true;
    InitLogging(options);
  }

  void Init(LogLevel level) {
    LogOptions options;
    options.service = "mash-test";
    options.level = level;
    options.to_stderr = true;
    InitLogging(options);
    stream_.str("");
    AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
  }

  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::istringstream in(stream_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  std::ostringstream stream_;
};

TEST_F(LogTest, EachLineIsOneJsonObjectWithTheStandardFields) {
  Init(LogLevel::kInfo);
  LogInfo("agent.connected", {{"agency", "police"}, {"count", 3}});
  LogWarn("query.expired");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);

  const auto first = nlohmann::json::parse(lines[0]);
  ASSERT_TRUE(first.is_object());
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["service"], "mash-test");
  EXPECT_EQ(first["event"], "agent.connected");
  EXPECT_EQ(first["agency"], "police");
  EXPECT_EQ(first["count"], 3);
  ASSERT_TRUE(first["ts"].is_string());
  const std::string ts = first["ts"];
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-22T08:12:37.123Z
  EXPECT_EQ(ts.back(), 'Z');

  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "warn");
  EXPECT_EQ(second["event"], "query.expired");
  EXPECT_EQ(second.size(), 4u);  // ts, level, service, event
}

TEST_F(LogTest, FieldsCannotOverwriteTheStandardKeys) {
  Init(LogLevel::kInfo);
  LogInfo("answer.received", {{"event", "forged"},
                              {"level", "error"},
                              {"ts", "1970-01-01T00:00:00.000Z"},
                              {"service", "other"},
                              {"agency", "police"}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["event"], "answer.received");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "mash-test");
  EXPECT_NE(j["ts"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(j["field.event"], "forged");
  EXPECT_EQ(j["field.level"], "error");
  EXPECT_EQ(j["agency"], "police");
}

TEST_F(LogTest, NonObjectFieldsGoUnderDetail) {
  Init(LogLevel::kInfo);
  LogError("broker.failed", nlohmann::json::array({1, 2}));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["detail"], nlohmann::json::array({1, 2}));
}

TEST_F(LogTest, InvalidUtf8DoesNotThrowAndStaysValidJson) {
  Init(LogLevel::kInfo);
  const std::string bad = "peer\xff\xfe sent \xc3";
  EXPECT_NO_THROW(LogInfo("peer.bad_text", {{"text", bad}}));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(lines[0])) << lines[0];
  EXPECT_EQ(j["event"], "peer.bad_text");
  ASSERT_TRUE(j["text"].is_string());
  EXPECT_EQ(j["text"].get<std::string>().substr(0, 4), "peer");
}

TEST_F(LogTest, LinesBelowTheLevelAreDropped) {
  Init(LogLevel::kWarn);
  LogDebug("a.debug");
  LogInfo("a.info");
  LogWarn("a.warn");
  LogError("a.error");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["event"], "a.warn");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["event"], "a.error");

  Init(LogLevel::kDebug);
  LogDebug("b.debug");
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(Lines()[0])["level"], "debug");
}

TEST_F(LogTest, ReinitialisingReplacesTheServiceName) {
  Init(LogLevel::kInfo);
  LogInfo("one");
  LogOptions options;
  options.service = "mash-agent";
  options.to_stderr = true;
  InitLogging(options);
  std::ostringstream second;
  AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(second));
  LogInfo("two");
  EXPECT_EQ(nlohmann::json::parse(Lines().at(0))["service"], "mash-test");
  EXPECT_EQ(nlohmann::json::parse(second.str())["service"], "mash-agent");
}

TEST(ParseLogLevelTest, KnownNamesOnly) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("INFO"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("warning"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
}

}  // namespace
}  // namespace mash::common
