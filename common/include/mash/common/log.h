// Structured logging: one JSON object per line, through spdlog.
//
//   {"ts":"2026-11-22T08:12:37.123Z","level":"info","service":"mash-broker",
//    "event":"agent.connected","agency":"police"}
//
// Rules (tests/unit/common/log_test.cc and the integration tests read the logs for them): a log
// line never holds key material, tokens, or personal data (names, dates of birth, identifiers,
// addresses). Log ids, agency ids, counts, codes and pseudonyms only.
//
// Thread safety: every function is safe from any thread once InitLogging has returned.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog::sinks {
class sink;
}

namespace mash::common {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogOptions {
  std::string service = "mash";
  LogLevel level = LogLevel::kInfo;
  // Where lines go: stdout for daemons (journald reads it), stderr for command-line tools.
  bool to_stderr = false;
  // Also append to this file, when set.
  std::optional<std::filesystem::path> file;
  friend bool operator==(const LogOptions&, const LogOptions&) = default;
};

// Replaces the process logger. Safe to call again (e.g. on reload).
void InitLogging(const LogOptions& options);
// The lowest level written from now on, keeping the logger's sinks (a reload: SIGHUP).
void SetLogLevel(LogLevel level);
// Adds a sink to the current logger (tests capture lines with it).
void AddLogSink(std::shared_ptr<spdlog::sinks::sink> sink);
// Parses "debug" | "info" | "warn" | "error".
std::optional<LogLevel> ParseLogLevel(std::string_view s);

void Log(LogLevel level, std::string_view event, const nlohmann::json& fields = {});
inline void LogDebug(std::string_view e, const nlohmann::json& f = {}) {
  Log(LogLevel::kDebug, e, f);
}
inline void LogInfo(std::string_view e, const nlohmann::json& f = {}) {
  Log(LogLevel::kInfo, e, f);
}
inline void LogWarn(std::string_view e, const nlohmann::json& f = {}) {
  Log(LogLevel::kWarn, e, f);
}
inline void LogError(std::string_view e, const nlohmann::json& f = {}) {
  Log(LogLevel::kError, e, f);
}

}  // namespace mash::common
