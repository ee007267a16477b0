#include "mash/common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

#include "mash/common/clock.h"

namespace mash::common {
namespace {

std::mutex g_mu;
std::string g_service = "mash";  // guarded by g_mu for writes; read under the same lock

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* Name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void InitLogging(const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  if (options.to_stderr) {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  }
  if (options.file) {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file->string()));
  }
  auto logger = std::make_shared<spdlog::logger>("mash", sinks.begin(), sinks.end());
  logger->set_pattern("%v");  // the line is already a complete JSON object
  logger->set_level(ToSpd(options.level));
  logger->flush_on(spdlog::level::debug);
  std::lock_guard<std::mutex> lock(g_mu);
  g_service = options.service;
  spdlog::set_default_logger(std::move(logger));
}

void SetLogLevel(LogLevel level) { spdlog::default_logger()->set_level(ToSpd(level)); }

void AddLogSink(std::shared_ptr<spdlog::sinks::sink> sink) {
  sink->set_pattern("%v");
  spdlog::default_logger()->sinks().push_back(std::move(sink));
}

std::optional<LogLevel> ParseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return std::nullopt;
}

void Log(LogLevel level, std::string_view event, const nlohmann::json& fields) {
  auto logger = spdlog::default_logger();
  if (!logger->should_log(ToSpd(level))) return;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = FormatRfc3339(std::chrono::system_clock::now());
  line["level"] = Name(level);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    line["service"] = g_service;
  }
  line["event"] = event;
  if (fields.is_object()) {
    // The standard keys are the logger's: a field of the same name is kept under "field.<name>"
    // so that no caller can forge a line's time, level, service or event.
    for (const auto& [k, v] : fields.items()) {
      const bool reserved = k == "ts" || k == "level" || k == "service" || k == "event";
      line[reserved ? "field." + k : k] = v;
    }
  } else if (!fields.is_null()) {
    line["detail"] = fields;
  }
  // Invalid UTF-8 from a peer must not throw out of the logger: replace it.
  logger->log(ToSpd(level), "{}",
              line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace mash::common
