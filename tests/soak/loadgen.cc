// mash-loadgen: hostile and idle connections against a running broker on loopback, for the soak
// tests (scripts/soak.sh). It plays the peers a broker on an open port meets, not a client:
//
//   idle-agent / idle-api  TCP connections that never send a byte
//   half-tls               a TLS record header and the start of a ClientHello, then nothing
//   no-cert                complete TLS handshakes on the agent port without a client
//                          certificate, again and again
//   slow-http              TLS to the API, then an HTTP request one header line every 2 s
//   unauth                 TLS to the API, GET /api/v1/checks without a token, again and again
//
// For --duration seconds every connection the broker closes is opened again (the attack); then,
// for at most --drain seconds, nothing is reopened and the tool waits for the broker to close what
// is left (its handshake and request deadlines). It ends with one JSON line: per kind, how many
// connections were opened, refused at connect, closed by the broker, still open at the end, the
// longest time the broker kept one open, and (unauth) the HTTP statuses seen; `peak_open` is the
// most connections held at once. Exit 0 unless the arguments are wrong.
//
// Single-threaded Asio; the certificate of the broker is not verified (these peers do not care).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

enum class Kind { kIdleAgent, kIdleApi, kHalfTls, kNoCert, kSlowHttp, kUnauth };

constexpr std::array<const char*, 6> kKindNames = {"idle_agent", "idle_api",  "half_tls",
                                                   "no_cert",    "slow_http", "unauth"};

struct Counters {
  int64_t opened = 0;
  int64_t connect_failed = 0;
  int64_t closed_by_peer = 0;
  int64_t open_now = 0;
  int64_t longest_open_ms = 0;
  int64_t tls_refused = 0;  // no-cert: handshakes the broker refused
  std::map<int, int64_t> statuses;
};

struct Run {
  net::io_context io;
  ssl::context tls{ssl::context::tls_client};
  tcp::endpoint agent;
  tcp::endpoint api;
  bool attacking = true;
  std::chrono::milliseconds reconnect_delay{250};
  std::array<Counters, kKindNames.size()> counters;
  int64_t open_total = 0;
  int64_t peak_open = 0;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Run& run, Kind kind) : run_(run), kind_(kind), stream_(run.io, run.tls), timer_(run.io) {}

  void Start() {
    const bool api = kind_ == Kind::kIdleApi || kind_ == Kind::kSlowHttp || kind_ == Kind::kUnauth;
    stream_.next_layer().async_connect(
        api ? run_.api : run_.agent,
        [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
  }

 private:
  Counters& c() { return run_.counters[static_cast<size_t>(kind_)]; }

  void OnConnect(beast::error_code ec) {
    if (ec) {
      ++c().connect_failed;
      return Again();
    }
    open_ = true;
    opened_at_ = Clock::now();
    ++c().opened;
    ++c().open_now;
    run_.peak_open = std::max(run_.peak_open, ++run_.open_total);
    switch (kind_) {
      case Kind::kIdleAgent:
      case Kind::kIdleApi:
        return WaitForClose();
      case Kind::kHalfTls: {
        // A TLS 1.0 record header announcing 512 bytes of handshake, and its first four bytes.
        static constexpr std::array<unsigned char, 9> kPartial = {0x16, 0x03, 0x01, 0x02, 0x00,
                                                                  0x01, 0x00, 0x01, 0xfc};
        return net::async_write(
            stream_.next_layer(), net::buffer(kPartial),
            [self = shared_from_this()](beast::error_code, size_t) { self->WaitForClose(); });
      }
      case Kind::kNoCert:
      case Kind::kSlowHttp:
      case Kind::kUnauth:
        return stream_.async_handshake(
            ssl::stream_base::client,
            [self = shared_from_this()](beast::error_code hec) { self->OnHandshake(hec); });
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      if (kind_ == Kind::kNoCert) ++c().tls_refused;
      return Closed();
    }
    switch (kind_) {
      case Kind::kNoCert:
        // TLS 1.3: the client finishes before the server has checked the (missing) certificate;
        // the broker's refusal arrives as an alert on the first read.
        return WaitForClose(true);
      case Kind::kSlowHttp:
        request_ = "GET /api/v1/checks HTTP/1.1\r\nHost: localhost\r\n";
        net::async_write(stream_, net::buffer(request_),
                         [self = shared_from_this()](beast::error_code wec, size_t) {
                           if (!wec) self->DripHeader();
                         });
        return WaitForClose();
      case Kind::kUnauth:
        return SendUnauthenticated();
      default:
        return;
    }
  }

  void DripHeader() {
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->open_) return;
      static const std::string kLine = "X-Slow: 1\r\n";
      net::async_write(self->stream_, net::buffer(kLine), [self](beast::error_code wec, size_t) {
        if (!wec) self->DripHeader();
      });
    });
  }

  void SendUnauthenticated() {
    request_ = "GET /api/v1/checks HTTP/1.1\r\nHost: localhost\r\n\r\n";
    net::async_write(
        stream_, net::buffer(request_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Closed();
          self->response_ = {};
          http::async_read(self->stream_, self->buffer_, self->response_,
                           [self](beast::error_code rec, size_t) { self->OnResponse(rec); });
        });
  }

  void OnResponse(beast::error_code ec) {
    if (ec) return Closed();
    ++c().statuses[static_cast<int>(response_.result_int())];
    if (!response_.keep_alive()) return Closed();
    timer_.expires_after(std::chrono::milliseconds(200));
    timer_.async_wait([self = shared_from_this()](beast::error_code tec) {
      if (!tec) self->SendUnauthenticated();
    });
  }

  void WaitForClose(bool tls = false) {
    auto done = [self = shared_from_this(), tls](beast::error_code ec, size_t) {
      if (tls && ec && ec.category() == net::error::get_ssl_category()) ++self->c().tls_refused;
      self->Closed();
    };
    // Anything the broker sends (an alert, a 408) is read and ignored; the end is the close.
    if (tls) {
      stream_.async_read_some(net::buffer(scratch_), done);
    } else {
      stream_.next_layer().async_read_some(
          net::buffer(scratch_), [self = shared_from_this(), done](beast::error_code ec, size_t n) {
            if (!ec) return self->WaitForClose(false);
            done(ec, n);
          });
    }
  }

  void Closed() {
    if (open_) {
      open_ = false;
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - opened_at_).count();
      c().longest_open_ms = std::max<int64_t>(c().longest_open_ms, ms);
      ++c().closed_by_peer;
      --c().open_now;
      --run_.open_total;
    }
    timer_.cancel();
    beast::error_code ignored;
    stream_.next_layer().close(ignored);
    Again();
  }

  void Again() {
    if (!run_.attacking) return;
    // Each of these peers holds one connection and opens the next a little after the broker
    // closes it: a steady 1,000 connections, not an unbounded flood of handshakes.
    auto next = std::make_shared<Conn>(run_, kind_);
    next->timer_.expires_after(run_.reconnect_delay);
    next->timer_.async_wait([next](beast::error_code) { next->Start(); });
  }

  Run& run_;
  Kind kind_;
  ssl::stream<tcp::socket> stream_;
  net::steady_timer timer_;
  bool open_ = false;
  Clock::time_point opened_at_;
  std::string request_;
  std::array<char, 4096> scratch_{};
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
};

void RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mash-loadgen: hostile and idle connections against a broker on loopback"};
  std::string host = "127.0.0.1";
  uint16_t agent_port = 0;
  uint16_t api_port = 0;
  std::array<int, kKindNames.size()> count{};
  int duration_s = 20;
  int drain_s = 30;
  int reconnect_ms = 250;
  app.add_option("--host", host, "broker address");
  app.add_option("--agent-port", agent_port, "the broker's agent port")->required();
  app.add_option("--api-port", api_port, "the broker's API port")->required();
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    std::string flag = std::string("--") + kKindNames[i];
    std::replace(flag.begin(), flag.end(), '_', '-');
    app.add_option(flag, count[i], "connections of this kind held at once");
  }
  app.add_option("--duration", duration_s, "seconds of attack (connections reopened)");
  app.add_option("--drain", drain_s, "then at most this many seconds for the broker to close all");
  app.add_option("--reconnect-ms", reconnect_ms, "delay before a closed connection is reopened");
  CLI11_PARSE(app, argc, argv);
  RaiseFdLimit();

  Run run;
  run.tls.set_verify_mode(ssl::verify_none);
  run.reconnect_delay = std::chrono::milliseconds(reconnect_ms);
  const auto address = net::ip::make_address(host);
  run.agent = {address, agent_port};
  run.api = {address, api_port};
  for (size_t i = 0; i < count.size(); ++i) {
    for (int n = 0; n < count[i]; ++n) std::make_shared<Conn>(run, static_cast<Kind>(i))->Start();
  }
  const auto started = Clock::now();
  net::steady_timer phase(run.io);
  int64_t drain_ms = 0;
  phase.expires_after(std::chrono::seconds(duration_s));
  phase.async_wait([&](beast::error_code) {
    run.attacking = false;
    const auto drain_start = Clock::now();
    // Poll until the broker has closed everything or the drain time is up.
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [&, poll, drain_start] {
      drain_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - drain_start).count();
      if (run.open_total == 0 || drain_ms >= drain_s * 1000) return run.io.stop();
      phase.expires_after(std::chrono::milliseconds(100));
      phase.async_wait([poll](beast::error_code) { (*poll)(); });
    };
    (*poll)();
  });
  run.io.run();

  nlohmann::json out;
  out["peak_open"] = run.peak_open;
  out["still_open"] = run.open_total;
  out["drain_ms"] = drain_ms;
  out["seconds"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() /
      1000.0;
  for (size_t i = 0; i < count.size(); ++i) {
    if (count[i] == 0) continue;
    const Counters& c = run.counters[i];
    nlohmann::json k = {{"opened", c.opened},
                        {"connect_failed", c.connect_failed},
                        {"closed_by_peer", c.closed_by_peer},
                        {"still_open", c.open_now},
                        {"longest_open_ms", c.longest_open_ms}};
    if (static_cast<Kind>(i) == Kind::kNoCert) k["tls_refused"] = c.tls_refused;
    if (!c.statuses.empty()) {
      nlohmann::json s = nlohmann::json::object();
      for (const auto& [code, n] : c.statuses) s[std::to_string(code)] = n;
      k["statuses"] = s;
    }
    out[kKindNames[i]] = k;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
