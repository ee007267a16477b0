// The ops listener over real loopback sockets: each route, readiness flipping, the refusals
// (404, 405, oversized header, body, connection cap, read timeout) and the loopback-only rule.
#include "mash/ops/server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>
#include <thread>

#include "mash/common/log.h"

namespace mash::ops {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class OpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<prometheus::Registry>();
    auto& family = prometheus::BuildCounter()
                       .Name("mash_test_events_total")
                       .Help("Events seen by the test")
                       .Register(*registry_);
    counter_ = &family.Add({{"outcome", "ok"}});
  }
  void TearDown() override {
    if (server_) {
      net::post(io_, [this] { server_->Stop(); });
    }
    if (thread_.joinable()) thread_.join();
  }

  void StartServer(OpsOptions options = {}) {
    options.listen = {"127.0.0.1", 0};
    OpsHandlers handlers;
    handlers.registry = registry_;
    handlers.refresh = [this] { refreshes_++; };
    handlers.not_ready = [this] {
      std::vector<std::string> failing;
      if (!ready_) failing.push_back("draining");
      return failing;
    };
    auto s = OpsServer::Start(io_, options, handlers);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = *s;
    thread_ = std::thread([this] { io_.run(); });
  }

  http::response<http::string_body> Request(http::verb method, const std::string& target,
                                            const std::string& extra_header = "") {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!extra_header.empty()) req.set("X-Padding", extra_header);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.skip(method == http::verb::head);
    parser.body_limit(1 << 20);
    http::read(stream, buffer, parser);
    return parser.release();
  }

  // Sends raw bytes and returns what comes back until the server closes.
  std::string Raw(const std::string& bytes) {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    net::write(socket, net::buffer(bytes));
    std::string out;
    beast::error_code ec;
    char buf[4096];
    for (;;) {
      const size_t n = socket.read_some(net::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }

  net::io_context io_;
  std::thread thread_;
  std::shared_ptr<OpsServer> server_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* counter_ = nullptr;
  std::atomic<bool> ready_{true};
  std::atomic<int> refreshes_{0};
};

TEST_F(OpsServerTest, HealthzAnswersWhileTheLoopRuns) {
  StartServer();
  auto res = Request(http::verb::get, "/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
}

TEST_F(OpsServerTest, ReadyzFlipsWithTheDaemonsState) {
  StartServer();
  auto ok = Request(http::verb::get, "/readyz");
  EXPECT_EQ(ok.result(), http::status::ok);
  EXPECT_EQ(nlohmann::json::parse(ok.body()), (nlohmann::json{{"ready", true}}));
  ready_ = false;
  auto not_ready = Request(http::verb::get, "/readyz");
  EXPECT_EQ(not_ready.result(), http::status::service_unavailable);
  const auto body = nlohmann::json::parse(not_ready.body());
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["failing"], nlohmann::json::array({"draining"}));
  ready_ = true;
  EXPECT_EQ(Request(http::verb::get, "/readyz").result(), http::status::ok);
}

TEST_F(OpsServerTest, MetricsServesTheRegistryInTextFormat) {
  StartServer();
  counter_->Increment(3);
  auto res = Request(http::verb::get, "/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res.body().find("# HELP mash_test_events_total Events seen by the test"),
            std::string::npos);
  EXPECT_NE(res.body().find("# TYPE mash_test_events_total counter"), std::string::npos);
  EXPECT_NE(res.body().find("mash_test_events_total{outcome=\"ok\"} 3"), std::string::npos)
      << res.body();
  EXPECT_EQ(refreshes_.load(), 1);
  counter_->Increment();
  EXPECT_NE(Request(http::verb::get, "/metrics").body().find("{outcome=\"ok\"} 4"),
            std::string::npos);
}

TEST_F(OpsServerTest, HeadGivesTheHeadersWithoutABody) {
  StartServer();
  auto res = Request(http::verb::head, "/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_length], "3");
  EXPECT_TRUE(res.body().empty());
}

TEST_F(OpsServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  StartServer();
  EXPECT_EQ(Request(http::verb::get, "/").result(), http::status::not_found);
  EXPECT_EQ(Request(http::verb::get, "/metrics/../admin").result(), http::status::not_found);
  EXPECT_EQ(Request(http::verb::get, "/api/v1/checks").result(), http::status::not_found);
  auto post = Request(http::verb::post, "/readyz");
  EXPECT_EQ(post.result(), http::status::method_not_allowed);
  EXPECT_EQ(post[http::field::allow], "GET, HEAD");
  EXPECT_EQ(Request(http::verb::delete_, "/healthz").result(), http::status::method_not_allowed);
  EXPECT_EQ(Request(http::verb::options, "/metrics").result(), http::status::method_not_allowed);
}

TEST_F(OpsServerTest, RefusesAnOversizedHeaderBlock) {
  OpsOptions options;
  options.max_header_bytes = 2048;
  StartServer(options);
  EXPECT_EQ(Request(http::verb::get, "/healthz", std::string(1500, 'a')).result(),
            http::status::ok);
  const std::string reply =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 431")) << reply.substr(0, 40);
}

TEST_F(OpsServerTest, RefusesARequestBodyAndGarbage) {
  StartServer();
  EXPECT_TRUE(Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
                  .starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(Raw("NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
}

TEST_F(OpsServerTest, ClosesAConnectionThatSendsNothing) {
  OpsOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  StartServer(options);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Raw("GET /heal"), "");  // never finished: closed by the deadline, no answer
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(OpsServerTest, ClosesConnectionsBeyondTheCap) {
  OpsOptions options;
  options.max_connections = 2;
  options.read_timeout = std::chrono::seconds(10);
  StartServer(options);
  net::io_context io;
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), server_->port());
  tcp::socket a(io), b(io), c(io);
  a.connect(ep);
  b.connect(ep);
  // Let the server accept both before the third arrives.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  c.connect(ep);
  char buf[16];
  beast::error_code ec;
  c.read_some(net::buffer(buf), ec);  // closed by the server without a byte
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  a.close();
  b.close();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Request(http::verb::get, "/healthz").result(), http::status::ok);
}

TEST_F(OpsServerTest, LogsEachRefusedRequestAtDebugWithoutItsTarget) {
  std::ostringstream lines;
  common::LogOptions log;
  log.level = common::LogLevel::kDebug;
  common::InitLogging(log);
  common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(lines));
  StartServer();
  (void)Request(http::verb::get, "/secret-looking-path-943-476-5919");
  (void)Request(http::verb::post, "/metrics");
  const std::string text = lines.str();
  std::vector<nlohmann::json> refused;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "ops.request_refused") refused.push_back(j);
  }
  ASSERT_EQ(refused.size(), 2u) << text;
  EXPECT_EQ(refused[0]["level"], "debug");
  EXPECT_EQ(refused[0]["status"], 404);
  EXPECT_EQ(refused[0]["reason"], "unknown path");
  EXPECT_EQ(refused[1]["status"], 405);
  EXPECT_EQ(text.find("943-476-5919"), std::string::npos);
  common::InitLogging({});
}

TEST(OpsServerStartTest, RefusesAnAddressThatIsNotLoopback) {
  net::io_context io;
  OpsHandlers handlers;
  handlers.registry = std::make_shared<prometheus::Registry>();
  handlers.not_ready = [] { return std::vector<std::string>{}; };
  for (const char* address : {"0.0.0.0", "::", "10.1.2.3"}) {
    OpsOptions options;
    options.listen = {address, 0};
    auto s = OpsServer::Start(io, options, handlers);
    EXPECT_FALSE(s.ok()) << address;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    }
  }
  OpsOptions options;
  options.listen = {"127.0.0.1", 0};
  handlers.not_ready = nullptr;
  EXPECT_FALSE(OpsServer::Start(io, options, handlers).ok());
}

TEST(OpsServerStartTest, ReportsAPortInUse) {
  net::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  OpsHandlers handlers;
  handlers.registry = std::make_shared<prometheus::Registry>();
  handlers.not_ready = [] { return std::vector<std::string>{}; };
  OpsOptions options;
  options.listen = {"127.0.0.1", taken.local_endpoint().port()};
  auto s = OpsServer::Start(io, options, handlers);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mash::ops
