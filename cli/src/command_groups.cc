#include "command_group.h"

namespace mash::cli {

std::unique_ptr<CommandGroup> MakePolicyCommands();
std::unique_ptr<CommandGroup> MakeAuditCommands();
std::unique_ptr<CommandGroup> MakeUserCommands(const Environment& env);

std::vector<std::unique_ptr<CommandGroup>> MakeCommandGroups(const Environment& env) {
  std::vector<std::unique_ptr<CommandGroup>> groups;
  groups.push_back(MakePolicyCommands());   // policy_commands.cc
  groups.push_back(MakeAuditCommands());    // audit_commands.cc
  groups.push_back(MakeUserCommands(env));  // user_commands.cc
  return groups;
}

}  // namespace mash::cli
