#include "command_group.h"

namespace mash::cli {

std::unique_ptr<CommandGroup> MakePolicyCommands();
std::unique_ptr<CommandGroup> MakeAuditCommands();

std::vector<std::unique_ptr<CommandGroup>> MakeCommandGroups() {
  std::vector<std::unique_ptr<CommandGroup>> groups;
  groups.push_back(MakePolicyCommands());  // policy_commands.cc
  groups.push_back(MakeAuditCommands());   // audit_commands.cc
  return groups;
}

}  // namespace mash::cli
