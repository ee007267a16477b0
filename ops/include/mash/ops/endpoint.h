// The address of the operations listener ([ops] listen in broker.toml and agent.toml): a
// loopback address and a port. The listener serves liveness, readiness and metrics without
// authentication, so it must never be reachable from another machine: anything that is not in
// 127.0.0.0/8 or ::1 is refused here, before a socket is opened.
//
// Thread safety: free functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mash/common/status.h"

namespace mash::ops {

struct Endpoint {
  std::string address;  // "127.0.0.1" or "::1" (no brackets)
  uint16_t port = 0;    // 0: any free port (tests)
  // "127.0.0.1:9464" or "[::1]:9465".
  std::string ToString() const;
};

// Parses "IPv4:port" or "[IPv6]:port" (the address parsed by Boost.Asio, never by hand).
// InvalidArgument when the text is not of that form, the port is not 0..65535, or the address is
// not a loopback address (127.0.0.0/8, ::1): names such as "localhost" are refused too, since
// what they resolve to is not the configuration's to decide.
Result<Endpoint> ParseLoopbackEndpoint(std::string_view text);

}  // namespace mash::ops
