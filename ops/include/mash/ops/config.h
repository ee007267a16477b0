// The [ops] section of a daemon's configuration (broker.toml, agent.toml), read the same way by
// both: `listen`, the loopback address of the ops listener (endpoint.h).
//
// Thread safety: free functions; the reader is the caller's.
#pragma once

#include <optional>

#include "mash/common/config.h"
#include "mash/ops/endpoint.h"

namespace mash::ops {

// The optional `ops.listen` key: nullopt when it is absent; when it is not a string or does not
// parse (ParseLoopbackEndpoint), nullopt and an error recorded on `r` at ops.listen, which
// r.Finish() reports.
std::optional<Endpoint> ReadOpsListen(common::ConfigReader& r);

}  // namespace mash::ops
