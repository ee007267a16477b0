// The command-line side of the operations commands (ops.h): `status`, `test-connection`,
// `diagnostics`, `log` and `check-config`. Part of the mash-agent executable only (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace mash::agent {

class OpsCommands {
 public:
  // Adds the subcommands to `app`.
  explicit OpsCommands(CLI::App& app);
  // After parsing: the exit code of the operations command that was given, nullopt if none was.
  std::optional<int> Run();

 private:
  int DoStatus();
  int DoTestConnection();
  int DoDiagnostics();
  int DoLog();
  int DoCheckConfig();

  CLI::App* status_;
  CLI::App* test_;
  CLI::App* diagnostics_;
  CLI::App* log_;
  CLI::App* check_;
  std::string config_;
  bool json_ = false;
  std::string out_;
  std::string since_;
  std::string check_ref_;
  int limit_ = 1000;
};

}  // namespace mash::agent
