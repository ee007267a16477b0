// Receipts (DESIGN §4 step 5, docs/audit-format.md §Receipts): what the broker returns for every
// answer so that the agency can prove, later, that its answer was logged, and check that the log
// it saw before is a prefix of the log now.
//
// JSON form:
//   {"version":1, "seq":N, "leaf_hash":"<b64>", "inclusion":["<b64>",...],
//    "checkpoint":"<checkpoint text>",
//    "consistency":{"from":M, "proof":["<b64>",...]}}   (optional)
//
// Thread safety: values and pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/audit/merkle.h"
#include "mash/common/status.h"

namespace mash::audit {

struct ConsistencyFrom {
  uint64_t from = 0;
  std::vector<Hash> proof;
  bool operator==(const ConsistencyFrom&) const = default;
};

struct Receipt {
  uint64_t seq = 0;
  Hash leaf_hash{};
  std::vector<Hash> inclusion;  // in the tree of the checkpoint's size
  std::string checkpoint;       // signed checkpoint text
  std::optional<ConsistencyFrom> consistency;

  nlohmann::json ToJson() const;
  // InvalidArgument on any missing or malformed field (hashes must be 32 bytes, at most 64
  // proof elements, the checkpoint at most kMaxCheckpointBytes).
  static Result<Receipt> FromJson(const nlohmann::json& j);
  bool operator==(const Receipt&) const = default;
};

}  // namespace mash::audit
