#include "ops_main.h"

#include <iostream>

#include "mash/agent/config.h"
#include "mash/agent/disclosure.h"
#include "mash/agent/ops.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"
#include "mash/common/private_file.h"

namespace mash::agent {
namespace {

// Operations commands print their result on stdout; any log line (a policy warning while
// loading) goes to stderr, warnings and worse only.
void QuietLogging() {
  common::LogOptions log;
  log.service = "mash-agent";
  log.level = common::LogLevel::kWarn;
  log.to_stderr = true;
  common::InitLogging(log);
}

Result<AgentConfig> Load(const std::string& path) {
  auto config = LoadAgentConfig(path);
  if (!config.ok()) std::cerr << config.status().message() << "\n";
  return config;
}

}  // namespace

OpsCommands::OpsCommands(CLI::App& app) {
  status_ = app.add_subcommand("status",
                               "show the agent's identity, connection, queries, review "
                               "queue, policy and witness state");
  status_->add_option("--config", config_, "agent.toml")->required();
  status_->add_flag("--json", json_, "JSON output (docs/agent.md)");

  test_ = app.add_subcommand("test-connection",
                             "check each step of connecting to the hub and stop at the first "
                             "failure (exit 3)");
  test_->add_option("--config", config_, "agent.toml")->required();
  test_->add_flag("--json", json_, "JSON output");

  diagnostics_ =
      app.add_subcommand("diagnostics", "write a redacted diagnostics bundle (JSON) for support");
  diagnostics_->add_option("--config", config_, "agent.toml")->required();
  diagnostics_->add_option("--out", out_, "bundle file to write (mode 0600)")->required();

  log_ = app.add_subcommand("log",
                            "read the disclosure log: answers sent, per-category "
                            "outcomes and receipts");
  log_->add_option("--config", config_, "agent.toml")->required();
  log_->add_option("--since", since_, "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  log_->add_option("--check", check_ref_, "only this check reference");
  log_->add_option("--limit", limit_, "the newest N answers (default 1000)")
      ->check(CLI::Range(1, 100000));
  log_->add_flag("--json", json_, "JSON output (docs/agent.md)");

  check_ = app.add_subcommand("check-config", "check agent.toml and every file it names, and exit");
  check_->add_option("--config", config_, "agent.toml")->required();
}

std::optional<int> OpsCommands::Run() {
  if (*status_) return DoStatus();
  if (*test_) return DoTestConnection();
  if (*diagnostics_) return DoDiagnostics();
  if (*log_) return DoLog();
  if (*check_) return DoCheckConfig();
  return std::nullopt;
}

int OpsCommands::DoStatus() {
  QuietLogging();
  auto config = Load(config_);
  if (!config.ok()) return kExitConfig;
  const nlohmann::json s = CollectStatus(*config, common::SystemClock().NowUnix());
  std::cout << (json_ ? s.dump(2) + "\n" : FormatStatus(s));
  return StatusExitCode(s);
}

int OpsCommands::DoTestConnection() {
  QuietLogging();
  const ConnectionTest t = agent::TestConnection(config_);
  std::cout << (json_ ? t.ToJson().dump(2) + "\n" : t.Format());
  return t.exit_code;
}

int OpsCommands::DoDiagnostics() {
  QuietLogging();
  auto bundle = BuildDiagnostics(config_, common::SystemClock().NowUnix());
  if (!bundle.ok()) {
    std::cerr << config_ << ": " << bundle.status().message() << "\n";
    return kExitConfig;
  }
  // 0600: it names paths and hosts of the agency's installation.
  if (Status s = common::WritePrivateFile(out_, bundle->dump(2) + "\n", /*overwrite=*/true);
      !s.ok()) {
    std::cerr << "diagnostics: " << s.message() << "\n";
    return kExitConfig;
  }
  std::cout << "diagnostics written to " << out_ << " (no keys, tokens or personal data; "
            << "read it before sending it)\n";
  return kExitOk;
}

int OpsCommands::DoLog() {
  QuietLogging();
  auto config = Load(config_);
  if (!config.ok()) return kExitConfig;
  LogQuery q;
  q.check_ref = check_ref_;
  q.limit = limit_;
  if (!since_.empty()) {
    auto since = ParseSince(since_);
    if (!since.ok()) {
      std::cerr << since.status().message() << "\n";
      return kExitConfig;
    }
    q.since = *since;
  }
  auto log = ReadDisclosureLog(*config, q);
  if (!log.ok()) {
    std::cerr << "disclosure log: " << log.status().message() << "\n";
    return kExitConfig;
  }
  std::cout << (json_ ? log->dump(2) + "\n" : FormatDisclosureLog(*log));
  return kExitOk;
}

int OpsCommands::DoCheckConfig() {
  QuietLogging();
  const int64_t now = common::SystemClock().NowUnix();
  const std::vector<std::string> problems = agent::CheckConfig(config_, now);
  for (const auto& p : problems) std::cerr << p << "\n";
  if (!problems.empty()) return kExitConfig;
  auto config = LoadAgentConfig(config_);
  auto policies = LoadDisclosurePolicies(config->policy, config->agency_type, now);
  std::cout << config_ << ": OK (agency " << config->agency_id << ", policy "
            << (*policies)->enforced().version << ")\n";
  return kExitOk;
}

}  // namespace mash::agent
