// Validation at the boundary: every message is checked against its JSON Schema (schemas/wire/)
// before any field is used.
//
// Thread safety: all functions are safe from any thread (the compiled schemas are built once,
// on first use, and are read-only afterwards).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"

namespace mash::schemas {

// Checks the raw text before it is parsed: at most `max_bytes`, nesting of objects and arrays at
// most `max_depth`. Scans once, allocates nothing. InvalidArgument / ResourceExhausted.
Status CheckJsonShape(std::string_view text, size_t max_bytes, int max_depth);

// Parses JSON text after CheckJsonShape. InvalidArgument on syntax errors (message holds the
// byte offset only, never the text).
Result<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes, int max_depth);

// Validates `doc` against the schema named `schema` (e.g. "hello", "query-body").
// InvalidArgument naming the JSON pointer of the first failing value and the rule it broke;
// values themselves are never echoed (they may be personal data). NotFound for an unknown name.
Status Validate(std::string_view schema, const nlohmann::json& doc);

// The published text of a schema, for `mashctl` and integrators.
std::optional<std::string_view> SchemaText(std::string_view name);
std::vector<std::string> SchemaNames();

}  // namespace mash::schemas
