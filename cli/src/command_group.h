// A group of mashctl subcommands that lives in its own file (`mashctl policy …`,
// `mashctl audit …`). mashctl.cc registers every group before parsing and, after parsing, asks
// each whether one of its subcommands was chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "mash/cli/mashctl.h"

namespace mash::cli {

class CommandGroup {
 public:
  virtual ~CommandGroup() = default;
  // Adds the group's subcommands and options to `app`.
  virtual void Register(CLI::App& app) = 0;
  // After parsing: the exit code when one of this group's subcommands ran, else nullopt.
  // Machine output goes to `out`, short error lines to `err`.
  virtual std::optional<int> RunIfChosen(std::ostream& out, std::ostream& err) = 0;
};

// Every group mashctl offers besides check, agency and pki. Defined in command_groups.cc. Groups
// that talk to the broker keep `env`, which outlives them.
std::vector<std::unique_ptr<CommandGroup>> MakeCommandGroups(const Environment& env);

}  // namespace mash::cli
