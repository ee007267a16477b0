// Dialling the hub: the steps that take the agent from a broker URL to an upgraded WebSocket on
// mutual TLS 1.3. Name lookup, TCP connect, through an HTTP proxy when one is configured
// (HTTP/1.1 CONNECT host:port, written and parsed by Boost.Beast, 2xx required), the TLS
// handshake with the broker's name and the hub CA pin checked on the tunnelled stream (end to
// end: the proxy only forwards bytes), and the WebSocket upgrade. The channel and
// `mash-agent test-connection` both use it, so the test checks what the agent does.
//
// Deadlines: every step has `handshake_timeout` (the lookup is bounded by the caller: the
// channel's setup deadline, the test's overall one).
//
// Secrets: the Proxy-Authorization value is sent to the proxy only; no error or log holds it.
//
// Thread safety: one dial runs on the stream's executor; the caller owns the stream and resolver
// and keeps them alive until `done` runs (the callbacks may hold their owner).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mash/agent/config.h"
#include "mash/common/status.h"

namespace mash::agent {

using WsStream =
    boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

enum class DialStep {
  kResolve,    // name lookup of the broker host (of the proxy host when a proxy is set)
  kConnect,    // TCP connect to the broker (to the proxy)
  kProxy,      // CONNECT through the proxy (only with a proxy)
  kTls,        // TLS handshake: server chain, broker name, CA pin
  kWebSocket,  // the upgrade: the first exchange after the handshake, so the broker accepted
               // the client certificate (TLS 1.3 servers check it after the client finished)
};
std::string_view DialStepName(DialStep step);

struct DialOptions {
  BrokerUrl broker;
  std::optional<ProxyUrl> proxy;
  // "Basic <base64(user:password)>" or empty; see LoadProxyAuthorization.
  std::string proxy_authorization;
  std::chrono::milliseconds handshake_timeout{10000};
  std::string user_agent = "mash-agent/0.1.0";
};

// Why a dial failed: the step, the error code (boost or OpenSSL), and a one-line description fit
// for logs (no credentials, no header values). `proxy_status` is the proxy's HTTP status when it
// answered CONNECT with something other than 2xx.
struct DialFailure {
  DialStep step = DialStep::kResolve;
  boost::beast::error_code ec;
  std::string detail;
  int proxy_status = 0;
};

// Progress: `step` completed. Done: nullopt on success (the WebSocket is open), else why not.
using DialProgress = std::function<void(DialStep step)>;
using DialDone = std::function<void(std::optional<DialFailure> failure)>;

// Starts the dial. The stream's SSL object gets the expected broker name (SetExpectedPeerName).
// `progress` may be empty. Cancel by closing the stream's socket and cancelling the resolver:
// `done` then runs with operation_aborted.
void AsyncDial(WsStream& ws, boost::asio::ip::tcp::resolver& resolver, const DialOptions& options,
               DialProgress progress, DialDone done);

// Reads proxy credentials from `path`: one line "user:password" (a final newline is ignored),
// from a file only its owner can read (common::ReadPrivateFile). Returns the Proxy-Authorization
// value "Basic <base64>". Errors: those of ReadPrivateFile (NotFound, FailedPrecondition for a
// file group or others may read), InvalidArgument when the line has no ':' or an empty user, or
// holds a control character. Messages name the path, never the content.
Result<std::string> LoadProxyAuthorization(const std::filesystem::path& path);

// The dial options of `config`, with the proxy credentials read. Errors: LoadProxyAuthorization's.
Result<DialOptions> DialOptionsFor(const AgentConfig& config);

}  // namespace mash::agent
