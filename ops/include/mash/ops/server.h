// The operations listener of a daemon (DESIGN §11): plain HTTP/1.1 on a loopback address, on the
// daemon's own io_context, for the machine's monitoring only.
//
//   GET /healthz   200 "ok": the event loop answers (liveness; nothing else is checked)
//   GET /readyz    200 {"ready":true} when the daemon can do its job, else 503
//                  {"ready":false,"failing":["<condition>",...]} (condition names only)
//   GET /metrics   200, the Prometheus text exposition (format 0.0.4) of the registry
//   HEAD on each   the same status and headers, no body
//   other paths 404; other methods 405 (Allow: GET, HEAD); a bad or oversized request 400/431;
//   one `ops.request_refused` line at debug per refused request (status and reason only).
//
// Bounds: a header block above max_header_bytes is refused, a request body is refused, each read
// has read_timeout, at most max_connections are open (more are closed at once). Handlers run on
// the io_context's thread(s): the daemons run one, so the readiness and refresh callbacks may
// read the daemon's state directly.
//
// Thread safety: Start, Stop and port() on the io_context's thread (or before it runs).
// Lifetime: the server is kept alive by its pending operations; Stop() closes the acceptor and
// the open connections, after which run() can return.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/ops/endpoint.h"
#include "mash/ops/prometheus_fwd.h"

namespace mash::ops {

struct OpsOptions {
  Endpoint listen;  // checked loopback (ParseLoopbackEndpoint); Start refuses anything else
  int max_connections = 8;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  uint32_t max_header_bytes = 8192;
};

struct OpsHandlers {
  // What /metrics serialises. Required.
  std::shared_ptr<prometheus::Registry> registry;
  // Called before each /metrics, to set the gauges that are read from state (queue depths,
  // connections, certificate expiry). Optional.
  std::function<void()> refresh;
  // The conditions that keep the daemon from doing its job, as short names without secrets or
  // personal data ("audit_log_failing", "draining"); empty: ready. Required.
  std::function<std::vector<std::string>()> not_ready;
};

class OpsServer : public std::enable_shared_from_this<OpsServer> {
 public:
  // Binds and starts accepting. InvalidArgument when the address is not loopback or a handler
  // is missing; Unavailable when the address cannot be bound (in use).
  static Result<std::shared_ptr<OpsServer>> Start(boost::asio::io_context& io, OpsOptions options,
                                                  OpsHandlers handlers);
  ~OpsServer();

  uint16_t port() const { return port_; }
  // Stops accepting and closes open connections. Idempotent.
  void Stop();

  struct Impl;  // server.cc; public so that the connection type there can name it

 private:
  OpsServer() = default;
  std::shared_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace mash::ops
