#include "mash/ops/config.h"

namespace mash::ops {

std::optional<Endpoint> ReadOpsListen(common::ConfigReader& r) {
  if (!r.Has("ops.listen")) return std::nullopt;
  auto endpoint = ParseLoopbackEndpoint(r.String("ops.listen"));
  if (!endpoint.ok()) {
    r.ErrorAt("ops.listen", "ops.listen: " + endpoint.status().message());
    return std::nullopt;
  }
  return *endpoint;
}

}  // namespace mash::ops
