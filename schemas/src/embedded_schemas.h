#pragma once

#include <string_view>
#include <vector>

namespace mash::schemas::internal {

struct EmbeddedSchema {
  std::string_view name;  // file name without ".schema.json"
  std::string_view text;
};

const std::vector<EmbeddedSchema>& EmbeddedSchemas();

}  // namespace mash::schemas::internal
