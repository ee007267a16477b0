// Operations commands for agency IT and the custodian (DESIGN §2, §11; docs/agent.md "Operating
// the agent"): status, test-connection, diagnostics, log and check-config. The mash-agent
// executable parses the command line and prints; everything it prints is built here, from data,
// so that tests check what operators see.
//
// None of these functions returns or prints personal data, key material or credentials: the
// disclosure log holds none, key files are described by mode and public fingerprint only, and
// log lines copied into a diagnostics bundle are scrubbed (ScrubLogLine).
//
// Thread safety: free functions; each opens what it needs and closes it before returning.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/config.h"
#include "mash/agent/review_queue.h"
#include "mash/common/status.h"

namespace mash::agent {

// Exit codes of every mash-agent command (DESIGN §11).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;      // a check failed: status unhealthy, config problems
inline constexpr int kExitConfig = 2;      // usage or configuration
inline constexpr int kExitConnection = 3;  // test-connection could not reach or use the broker

// ---- status ----------------------------------------------------------------------------------

// The agent's status as JSON, shape `kStatusShape` below (docs/agent.md). Each part that cannot
// be read (certificate file, database) carries an "error" member instead of its data; the
// function itself does not fail.
nlohmann::json CollectStatus(const AgentConfig& config, int64_t now);
// Human-readable lines of a CollectStatus document.
std::string FormatStatus(const nlohmann::json& status);
// kExitOk when the agent runs, is connected and no witness alarm is raised; kExitFailed otherwise.
int StatusExitCode(const nlohmann::json& status);

// What awaits the agency's custodian, from the review queue in the agent's database (opened
// as `mash-agent review` opens it): pending items and their undecided categories.
Result<ReviewQueue::Awaiting> CountAwaitingReview(const AgentConfig& config);

// ---- test-connection -------------------------------------------------------------------------

struct ConnectionStep {
  std::string name;  // config, dns, proxy, tcp, tls, mtls, welcome
  bool ok = false;
  std::string detail;  // what was checked or what went wrong (no secrets)
  std::string hint;    // on failure: what to look at
};

struct ConnectionTest {
  std::vector<ConnectionStep> steps;  // up to and including the first failure
  int exit_code = kExitOk;            // kExitOk, kExitConfig (config step) or kExitConnection
  nlohmann::json ToJson() const;
  std::string Format() const;  // one line per step: "ok   tls  ..." / "FAIL tls  ... (hint: ...)"
};

// Runs each step the agent runs when it connects (dial.h, then hello/welcome) and stops at the
// first failure. Hello carries the agent's held audit checkpoint when its database can be read,
// so that the broker keeps proving consistency from the right size; the connection is closed
// right after the welcome. `overall` bounds the whole test.
ConnectionTest TestConnection(const std::filesystem::path& config_path,
                              std::chrono::milliseconds overall = std::chrono::seconds(60));

// ---- log -------------------------------------------------------------------------------------

struct LogQuery {
  int64_t since = 0;      // Unix seconds; 0: from the start
  std::string check_ref;  // "": every check
  int limit = 1000;       // the newest `limit` entries, shown oldest first
};

// Parses --since: "YYYY-MM-DD" (UTC midnight) or "YYYY-MM-DDTHH:MM:SSZ". InvalidArgument.
Result<int64_t> ParseSince(std::string_view text);

// The disclosure log (every answer sent, what was released or withheld per category, and the
// broker's receipt), as JSON {"version":1,"entries":[...]} (docs/agent.md). It holds no subject
// details: the log has none (see docs). Errors: storage's (NotFound when there is no database).
Result<nlohmann::json> ReadDisclosureLog(const AgentConfig& config, const LogQuery& query);
std::string FormatDisclosureLog(const nlohmann::json& log);

// ---- diagnostics -----------------------------------------------------------------------------

// A redacted bundle for support: one JSON document (docs/agent.md): versions, the configuration
// (every path, no secret content), key files (mode, owner, size; public fingerprints only),
// certificates (subject, expiry), the scrubbed last `log_lines` of log.file when there is one,
// status, and test-connection's result. `config_path` must load (else the error).
Result<nlohmann::json> BuildDiagnostics(const std::filesystem::path& config_path, int64_t now,
                                        size_t log_lines = 200);

// One log line as it may go into a bundle: only ts, level, service, event and fields whose names
// are on an allowlist (steps, errors, codes, counts, versions), strings cut to 200 characters;
// nullopt for a line that is not a JSON object.
std::optional<nlohmann::json> ScrubLogLine(std::string_view line);

// ---- check-config ----------------------------------------------------------------------------

// Every problem of an agent.toml, each "file:line:col: message": the file's own (LoadAgentConfig)
// and, for every key that was read (also when the file has problems elsewhere), those of what it
// names (TLS certificate, key and CRLs, key files, pinned
// broker keys, audit key, database key, proxy credentials, policy, records), positioned at the
// key that names the file. Empty when all is well.
std::vector<std::string> CheckConfig(const std::filesystem::path& config_path, int64_t now);

}  // namespace mash::agent
