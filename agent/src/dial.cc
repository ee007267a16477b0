#include "mash/agent/dial.h"

#include <algorithm>
#include <boost/beast/http.hpp>
#include <memory>

#include "mash/common/encoding.h"
#include "mash/common/private_file.h"
#include "mash/crypto/tls.h"

namespace mash::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

// A proxy's answer to CONNECT is a status line and a few headers; anything bigger is not one.
constexpr uint32_t kMaxProxyHeaderBytes = 8 * 1024;
constexpr size_t kMaxCredentialBytes = 1024;

class DialOp : public std::enable_shared_from_this<DialOp> {
 public:
  DialOp(WsStream& ws, tcp::resolver& resolver, const DialOptions& options, DialProgress progress,
         DialDone done)
      : ws_(ws),
        resolver_(resolver),
        options_(options),
        progress_(std::move(progress)),
        done_(std::move(done)) {}

  void Start() {
    const std::string& host = options_.proxy ? options_.proxy->host : options_.broker.host;
    const uint16_t port = options_.proxy ? options_.proxy->port : options_.broker.port;
    resolver_.async_resolve(host, std::to_string(port),
                            beast::bind_front_handler(&DialOp::OnResolve, shared_from_this()));
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(ws_); }

  void Step(DialStep step) {
    if (progress_) progress_(step);
  }

  void Fail(DialStep step, beast::error_code ec, std::string detail, int proxy_status = 0) {
    if (detail.empty()) detail = ec.message();
    DialDone done = std::move(done_);
    if (done) done(DialFailure{step, ec, std::move(detail), proxy_status});
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return Fail(DialStep::kResolve, ec, {});
    Step(DialStep::kResolve);
    tcp().expires_after(options_.handshake_timeout);
    tcp().async_connect(results, beast::bind_front_handler(&DialOp::OnConnect, shared_from_this()));
  }

  void OnConnect(beast::error_code ec, tcp::endpoint) {
    if (ec) return Fail(DialStep::kConnect, ec, {});
    Step(DialStep::kConnect);
    if (options_.proxy) return SendConnect();
    StartTls();
  }

  void SendConnect() {
    const std::string target = options_.broker.host + ":" + std::to_string(options_.broker.port);
    request_ = {http::verb::connect, target, 11};
    request_.set(http::field::host, target);
    request_.set(http::field::user_agent, options_.user_agent);
    if (!options_.proxy_authorization.empty()) {
      request_.set(http::field::proxy_authorization, options_.proxy_authorization);
    }
    tcp().expires_after(options_.handshake_timeout);
    http::async_write(tcp(), request_,
                      beast::bind_front_handler(&DialOp::OnConnectSent, shared_from_this()));
  }

  void OnConnectSent(beast::error_code ec, size_t) {
    // The request held the credentials; they are not needed any more.
    request_ = {};
    if (ec) return Fail(DialStep::kProxy, ec, "sending CONNECT to the proxy: " + ec.message());
    parser_.emplace();
    parser_->header_limit(kMaxProxyHeaderBytes);
    // A response to CONNECT has no body: after a 2xx the tunnel starts at the next byte.
    parser_->skip(true);
    tcp().expires_after(options_.handshake_timeout);
    http::async_read_header(tcp(), buffer_, *parser_,
                            beast::bind_front_handler(&DialOp::OnProxyAnswer, shared_from_this()));
  }

  void OnProxyAnswer(beast::error_code ec, size_t) {
    if (ec) {
      return Fail(DialStep::kProxy, ec, "no answer to CONNECT from the proxy: " + ec.message());
    }
    const int status = static_cast<int>(parser_->get().result_int());
    parser_.reset();
    if (status == 407) {
      return Fail(DialStep::kProxy, make_error_code(beast::errc::permission_denied),
                  "the proxy asks for authentication (407): set or check "
                  "broker.proxy_credentials",
                  status);
    }
    if (status < 200 || status > 299) {
      return Fail(DialStep::kProxy, make_error_code(beast::errc::connection_refused),
                  "the proxy refused the tunnel to the broker (" + std::to_string(status) + ")",
                  status);
    }
    if (buffer_.size() != 0) {
      // The broker speaks only after the ClientHello: bytes already here came from the proxy.
      return Fail(DialStep::kProxy, make_error_code(beast::errc::protocol_error),
                  "the proxy sent data after accepting the tunnel");
    }
    Step(DialStep::kProxy);
    StartTls();
  }

  void StartTls() {
    SSL* ssl = ws_.next_layer().native_handle();
    if (const Status s = crypto::SetExpectedPeerName(ssl, options_.broker.host); !s.ok()) {
      return Fail(DialStep::kTls, make_error_code(beast::errc::invalid_argument),
                  "cannot set the broker name: " + s.message());
    }
    tcp().expires_after(options_.handshake_timeout);
    ws_.next_layer().async_handshake(
        net::ssl::stream_base::client,
        beast::bind_front_handler(&DialOp::OnTlsHandshake, shared_from_this()));
  }

  void OnTlsHandshake(beast::error_code ec) {
    if (ec) return Fail(DialStep::kTls, ec, {});
    Step(DialStep::kTls);
    tcp().expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = options_.handshake_timeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [agent = options_.user_agent](websocket::request_type& req) {
          req.set(http::field::user_agent, agent);
        }));
    const auto& b = options_.broker;
    ws_.async_handshake(b.host + ":" + std::to_string(b.port), b.path,
                        beast::bind_front_handler(&DialOp::OnWsHandshake, shared_from_this()));
  }

  void OnWsHandshake(beast::error_code ec) {
    if (ec) return Fail(DialStep::kWebSocket, ec, {});
    Step(DialStep::kWebSocket);
    DialDone done = std::move(done_);
    if (done) done(std::nullopt);
  }

  WsStream& ws_;
  tcp::resolver& resolver_;
  DialOptions options_;
  DialProgress progress_;
  DialDone done_;
  http::request<http::empty_body> request_;
  std::optional<http::response_parser<http::empty_body>> parser_;
  beast::flat_buffer buffer_{kMaxProxyHeaderBytes};
};

}  // namespace

std::string_view DialStepName(DialStep step) {
  switch (step) {
    case DialStep::kResolve:
      return "dns";
    case DialStep::kConnect:
      return "connect";
    case DialStep::kProxy:
      return "proxy";
    case DialStep::kTls:
      return "tls";
    case DialStep::kWebSocket:
      return "websocket";
  }
  return "unknown";
}

void AsyncDial(WsStream& ws, tcp::resolver& resolver, const DialOptions& options,
               DialProgress progress, DialDone done) {
  std::make_shared<DialOp>(ws, resolver, options, std::move(progress), std::move(done))->Start();
}

Result<std::string> LoadProxyAuthorization(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(std::string text, common::ReadPrivateFile(path, kMaxCredentialBytes));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  const auto colon = text.find(':');
  bool control = false;
  for (const char c : text) control = control || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  const std::string problem = colon == std::string::npos || colon == 0
                                  ? "is not one line user:password"
                              : control ? "holds a control character"
                                        : "";
  if (!problem.empty()) {
    std::fill(text.begin(), text.end(), '\0');
    return InvalidArgument("proxy credentials file " + path.string() + " " + problem);
  }
  std::string value = "Basic " + common::Base64Encode(common::AsBytes(text));
  std::fill(text.begin(), text.end(), '\0');
  return value;
}

Result<DialOptions> DialOptionsFor(const AgentConfig& config) {
  DialOptions d;
  d.broker = config.broker;
  d.proxy = config.proxy;
  d.handshake_timeout = config.handshake_timeout;
  if (!config.proxy_credentials.empty()) {
    auto auth = LoadProxyAuthorization(config.proxy_credentials);
    if (!auth.ok()) return auth.status().WithContext("broker.proxy_credentials");
    d.proxy_authorization = std::move(*auth);
  }
  return d;
}

}  // namespace mash::agent
