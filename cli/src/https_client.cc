// The only translation unit of mashctl that includes Beast (they compile slowly).
//
// Beast's tcp_stream deadlines (expires_after) apply to asynchronous operations only, so each
// step is started asynchronously on a private io_context and run to completion before the next:
// synchronous for the caller, with a deadline on every step.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

#include "mash/cli/api_client.h"
#include "mash/crypto/tls.h"
#include "mash/schemas/validator.h"

namespace mash::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kShutdownTimeout{2};
constexpr size_t kMaxReplyHeaderBytes = 16 * 1024;
constexpr int kMaxReplyDepth = 32;
constexpr char kUserAgent[] = "mashctl/0.1";

// Runs the io_context until the started operation and its timers are done.
void RunToCompletion(net::io_context& io) {
  io.restart();
  io.run();
}

Status StepError(const beast::error_code& ec, const std::string& what) {
  if (ec == beast::error::timeout) return DeadlineExceeded(what + ": timed out");
  return Unavailable(what + ": " + ec.message());
}

class HttpsClient final : public ApiClient {
 public:
  HttpsClient(ClientOptions options, std::shared_ptr<net::ssl::context> tls)
      : options_(std::move(options)), tls_(std::move(tls)) {}

  Result<HttpReply> Get(std::string_view target) override {
    return Exchange(http::verb::get, target, nullptr);
  }
  Result<HttpReply> Post(std::string_view target, const nlohmann::json& body) override {
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return Exchange(http::verb::post, target, &text);
  }

 private:
  Result<HttpReply> Exchange(http::verb verb, std::string_view target, const std::string* body);

  ClientOptions options_;
  std::shared_ptr<net::ssl::context> tls_;
};

Result<HttpReply> HttpsClient::Exchange(http::verb verb, std::string_view target,
                                        const std::string* body) {
  const std::string& host = options_.broker.host;
  const std::string where = host.find(':') != std::string::npos
                                ? "[" + host + "]:" + options_.broker.port
                                : host + ":" + options_.broker.port;
  net::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream(io, *tls_);
  MASH_RETURN_IF_ERROR(crypto::SetExpectedPeerName(stream.native_handle(), host));
  beast::error_code ec;

  // The resolver has no deadline of its own: bound the run instead and cancel what is left.
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  bool resolved = false;
  resolver.async_resolve(host, options_.broker.port,
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           resolved = true;
                         });
  io.run_for(kConnectTimeout);
  if (!resolved) {
    resolver.cancel();
    RunToCompletion(io);
    return DeadlineExceeded("cannot resolve " + where + ": timed out");
  }
  if (ec) return StepError(ec, "cannot resolve " + where);

  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_after(kConnectTimeout);
  tcp_stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  RunToCompletion(io);
  if (ec) return StepError(ec, "cannot connect to " + where);

  tcp_stream.expires_after(kConnectTimeout);
  stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  RunToCompletion(io);
  if (ec) {
    std::string detail = ec.message();
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) {
      detail += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    }
    if (ec == beast::error::timeout) detail = "timed out";
    return Unavailable("TLS handshake with " + where + " failed: " + detail);
  }

  http::request<http::string_body> req{verb, std::string(target), 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, kUserAgent);
  req.set(http::field::accept, "application/json");
  if (!options_.token.empty()) req.set(http::field::authorization, "Bearer " + options_.token);
  req.keep_alive(false);
  if (body != nullptr) {
    req.set(http::field::content_type, "application/json");
    req.body() = *body;
  }
  req.prepare_payload();

  // One deadline for the request and its reply.
  tcp_stream.expires_after(kRequestTimeout);
  http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
  RunToCompletion(io);
  if (ec) return StepError(ec, "cannot send the request to " + where);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxReplyHeaderBytes);
  parser.body_limit(kMaxReplyBytes);
  http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  RunToCompletion(io);
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return Unavailable("the reply from " + where + " is too large");
  }
  if (ec) return StepError(ec, "cannot read the reply from " + where);

  // The reply is complete; a broker that drops the connection without close_notify is harmless
  // here, so the outcome of the shutdown is ignored.
  tcp_stream.expires_after(kShutdownTimeout);
  stream.async_shutdown([](beast::error_code) {});
  RunToCompletion(io);

  const auto& res = parser.get();
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  if (!res.body().empty()) {
    auto parsed = schemas::ParseJson(res.body(), kMaxReplyBytes, kMaxReplyDepth);
    if (parsed.ok()) {
      reply.body = std::move(*parsed);
    } else if (reply.status >= 200 && reply.status < 300) {
      return Unavailable("the broker at " + where + " sent a reply that is not JSON");
    }
  }
  return reply;
}

}  // namespace

Result<BrokerAddress> ParseBrokerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  const Status bad = InvalidArgument("broker URL must look like https://HOST:PORT");
  if (url.substr(0, kScheme.size()) != kScheme) return bad;
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string_view::npos) return bad;

  BrokerAddress out;
  std::string_view port;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad;
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad;
      port = rest.substr(1);
    }
    if (out.host.empty() ||
        out.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return bad;
    }
  } else {
    const auto colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
    if (out.host.empty() ||
        out.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789.-") != std::string::npos) {
      return bad;
    }
  }
  if (port.data() == nullptr) {
    out.port = "443";
    return out;
  }
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || err != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return InvalidArgument("broker URL has a bad port");
  }
  out.port = std::to_string(value);
  return out;
}

Result<std::unique_ptr<ApiClient>> MakeHttpsClient(ClientOptions options) {
  crypto::TlsOptions tls;
  tls.role = crypto::TlsRole::kClient;
  tls.ca_file = options.ca_file;
  tls.crl_files = options.crl_files;
  // No client certificate: staff authenticate to the API with their bearer token.
  MASH_ASSIGN_OR_RETURN(auto context, crypto::MakeTlsContext(tls));
  return std::unique_ptr<ApiClient>(new HttpsClient(std::move(options), std::move(context)));
}

}  // namespace mash::cli
