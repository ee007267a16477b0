#include "mash/ops/server.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "mash/common/log.h"

namespace mash::ops {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Room above the header limit for the request line's own bytes in the read buffer; the parser's
// header_limit is what refuses an oversized request (431).
constexpr size_t kBufferSlack = 1024;
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

class Connection;

}  // namespace

struct OpsServer::Impl {
  Impl(net::io_context& io_ctx, OpsOptions o, OpsHandlers h)
      : io(io_ctx), acceptor(io_ctx), options(std::move(o)), handlers(std::move(h)) {}
  net::io_context& io;
  tcp::acceptor acceptor;
  OpsOptions options;
  OpsHandlers handlers;
  std::vector<std::weak_ptr<Connection>> connections;
  int active = 0;
  bool stopped = false;
};

namespace {

void Refused(int status, std::string_view reason) {
  common::LogDebug("ops.request_refused", {{"status", status}, {"reason", reason}});
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<OpsServer::Impl> impl)
      : stream_(std::move(socket)),
        buffer_(impl->options.max_header_bytes + kBufferSlack),
        impl_(std::move(impl)) {
    ++impl_->active;
  }
  ~Connection() { --impl_->active; }

  void Start() { DoRead(); }
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(impl_->options.max_header_bytes);
    stream_.expires_after(impl_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Connection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted) return Close();
    if (ec == beast::error::timeout) {
      Refused(408, "read timeout");
      return Close();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      Refused(431, "header too large");
      return Reply(Plain(http::status::request_header_fields_too_large, 11, "header too large"),
                   false, false);
    }
    if (ec == http::error::unexpected_body) {
      Refused(400, "request body");
      return Reply(Plain(http::status::bad_request, 11, "bad request"), false, false);
    }
    if (ec) {
      Refused(400, "malformed request");
      return Reply(Plain(http::status::bad_request, 11, "bad request"), false, false);
    }
    const auto& req = parser_->get();
    Reply(Handle(req), req.keep_alive(), req.method() == http::verb::head);
  }

  static http::response<http::string_body> Plain(http::status status, unsigned version,
                                                 std::string body) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body) + "\n";
    return res;
  }

  http::response<http::string_body> Handle(const http::request<http::empty_body>& req) {
    const unsigned v = req.version();
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      Refused(405, "method");
      auto res = Plain(http::status::method_not_allowed, v, "method not allowed");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    std::string_view target = req.target();
    // A query string selects nothing here; Prometheus sends none.
    target = target.substr(0, target.find('?'));
    http::response<http::string_body> res;
    if (target == "/healthz") {
      res = Plain(http::status::ok, v, "ok");
    } else if (target == "/readyz") {
      const std::vector<std::string> failing = impl_->handlers.not_ready();
      nlohmann::json body = {{"ready", failing.empty()}};
      if (!failing.empty()) body["failing"] = failing;
      res = http::response<http::string_body>{
          failing.empty() ? http::status::ok : http::status::service_unavailable, v};
      res.set(http::field::content_type, "application/json");
      res.set(http::field::cache_control, "no-store");
      res.body() = body.dump() + "\n";
    } else if (target == "/metrics") {
      if (impl_->handlers.refresh) impl_->handlers.refresh();
      res = http::response<http::string_body>{http::status::ok, v};
      res.set(http::field::content_type, kMetricsType);
      res.set(http::field::cache_control, "no-store");
      res.body() = prometheus::TextSerializer().Serialize(impl_->handlers.registry->Collect());
    } else {
      Refused(404, "unknown path");
      res = Plain(http::status::not_found, v, "not found");
    }
    if (head) {
      // The length the GET would have, and no body.
      const size_t length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    return res;
  }

  void Reply(http::response<http::string_body> res, bool keep_alive, bool head) {
    res.set(http::field::server, "mash-ops");
    res.keep_alive(keep_alive);
    if (!res.has_content_length()) res.prepare_payload();
    res_ = std::move(res);
    keep_alive_ = keep_alive;
    stream_.expires_after(impl_->options.write_timeout);
    if (head) {
      // HEAD: header only (the serializer would otherwise expect the announced body).
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(res_);
      http::async_write_header(stream_, *sr,
                               [self = shared_from_this(), sr](beast::error_code ec, size_t n) {
                                 self->OnWrite(ec, n);
                               });
      return;
    }
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Connection::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec || !keep_alive_ || impl_->stopped) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Close();
    }
    DoRead();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> res_;
  bool keep_alive_ = false;
  std::shared_ptr<OpsServer::Impl> impl_;
};

void DoAccept(std::shared_ptr<OpsServer::Impl> impl) {
  auto* acceptor = &impl->acceptor;
  acceptor->async_accept([impl = std::move(impl)](beast::error_code ec, tcp::socket socket) {
    if (impl->stopped) return;
    if (ec) {
      common::LogWarn("ops.accept_failed", {{"error", ec.message()}});
    } else if (impl->active >= impl->options.max_connections) {
      Refused(503, "connection cap");
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::erase_if(impl->connections, [](const auto& w) { return w.expired(); });
      auto c = std::make_shared<Connection>(std::move(socket), impl);
      impl->connections.push_back(c);
      c->Start();
    }
    DoAccept(impl);
  });
}

}  // namespace

Result<std::shared_ptr<OpsServer>> OpsServer::Start(net::io_context& io, OpsOptions options,
                                                    OpsHandlers handlers) {
  // The configuration was checked; check again so that no caller can open it to the network.
  MASH_ASSIGN_OR_RETURN(Endpoint checked, ParseLoopbackEndpoint(options.listen.ToString()));
  if (!handlers.registry || !handlers.not_ready) {
    return InvalidArgument("ops listener needs a registry and a readiness check");
  }
  std::shared_ptr<OpsServer> server(new OpsServer());
  server->impl_ = std::make_shared<Impl>(io, std::move(options), std::move(handlers));
  Impl& impl = *server->impl_;
  beast::error_code ec;
  const tcp::endpoint ep(net::ip::make_address(checked.address), checked.port);
  impl.acceptor.open(ep.protocol(), ec);
  if (!ec) impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(ep, ec);
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Unavailable("cannot listen for ops on " + checked.ToString() + ": " + ec.message());
  server->port_ = impl.acceptor.local_endpoint().port();
  DoAccept(server->impl_);
  common::LogInfo("ops.listening", {{"address", checked.address}, {"port", server->port_}});
  return server;
}

OpsServer::~OpsServer() = default;

void OpsServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  for (auto& w : impl_->connections) {
    if (auto c = w.lock()) c->Close();
  }
  impl_->connections.clear();
}

}  // namespace mash::ops
