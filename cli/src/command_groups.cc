#include "command_group.h"

namespace mash::cli {

std::vector<std::unique_ptr<CommandGroup>> MakeCommandGroups() {
  std::vector<std::unique_ptr<CommandGroup>> groups;
  return groups;
}

}  // namespace mash::cli
