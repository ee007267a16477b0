// mash_e2e_load: the load generator and measurement of the end-to-end benchmark (run-e2e.sh,
// docs/benchmarks.md). It raises checks through the broker's HTTPS API as a practitioner would
// (POST /api/v1/checks with a bearer token over TLS 1.3 and keep-alive connections), then waits
// for each one with GET /api/v1/checks/{id}?wait=30, which the broker answers once no agency is
// still to answer. Latency is from the moment the raise was due to be sent (open loop: its slot
// in the schedule, so a late generator counts against the hub) to the check's compiled_at, the
// broker's own time at which the last answer was recorded; both on this host's real-time clock.
//
//   phase 1: --rate R checks/s offered (open loop) for --phase1 S seconds;
//   phase 2: --concurrency C practitioners back to back (closed loop) for --phase2 S seconds.
// Each phase starts after --warmup seconds of the same load that are not counted. CPU is the
// utime+stime of the hub's processes (--pids) over the phase, peak RSS their VmHWM at the end.
// Then, with the hub idle, the ceilings: the envelope crypto one check needs (seal and sign six
// queries, open and verify each at its agent, seal and sign six answers, open and verify them,
// and the six receipts both ways) timed on one thread, and the raw rate of 512-byte write+fsync
// in --data-dir (the broker's data folder).
//
// The last line of output is one JSON object of figures (docs/benchmarks.md).
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mash/common/clock.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Steady = std::chrono::steady_clock;
using mash::common::Bytes;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-22T23:40:01.123Z" -> Unix milliseconds (UTC); -1 when malformed.
int64_t ParseRfc3339Ms(const std::string& s) {
  int y, mo, d, h, mi, sec, ms;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &sec, &ms) !=
      7) {
    return -1;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

struct Options {
  std::string host = "localhost";
  std::string port;
  std::string ca;
  std::vector<std::string> crls;
  std::string token;
  nlohmann::json requests;
  int match_every = 10;
  double rate = 100;
  double phase1 = 25;
  double phase2 = 25;
  double warmup = 3;
  int concurrency = 32;
  std::vector<std::pair<std::string, int>> pids;
  std::string data_dir;
  int64_t records = 0;
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// ---- one practitioner's connection -------------------------------------------------------

struct Outcome {
  bool ok = false;
  std::string error;       // why not ok
  double latency_ms = 0;   // due time -> compiled_at (broker clock)
  double observed_ms = 0;  // due time -> the compiled check read back (this client)
  int confirmed = 0;       // agencies that confirmed a match
  int possible = 0;
  bool review = false;  // some category went to a custodian
};

class Connection {
 public:
  Connection(net::io_context& io, net::ssl::context& tls, const Options& o)
      : io_(io), tls_(tls), o_(o) {}

  // Raises `body` and waits for it to be compiled. `due_ms`/`due`: when it was due to be sent.
  Outcome RunCheck(const std::string& body, int64_t due_ms, Steady::time_point due) {
    Outcome out;
    auto raised = Exchange(http::verb::post, "/api/v1/checks", &body);
    if (!raised) return Fail(out, "raise: " + error_);
    if (raised->first != 201) return Fail(out, "raise: HTTP " + std::to_string(raised->first));
    const auto id = raised->second.value("id", std::string());
    auto shown = Exchange(http::verb::get, "/api/v1/checks/" + id + "?wait=30", nullptr);
    if (!shown) return Fail(out, "wait: " + error_);
    out.observed_ms = std::chrono::duration<double, std::milli>(Steady::now() - due).count();
    if (shown->first != 200) return Fail(out, "wait: HTTP " + std::to_string(shown->first));
    try {
      return Compiled(shown->second, due_ms, out);
    } catch (const nlohmann::json::exception& e) {
      return Fail(out, std::string("unexpected check: ") + e.what());
    }
  }

  // The figures of a check read back with ?wait.
  static Outcome Compiled(const nlohmann::json& check, int64_t due_ms, Outcome& out) {
    if (check.value("state", "") != "answered") {
      return Fail(out, "state " + check.value("state", std::string("?")));
    }
    const int64_t compiled = ParseRfc3339Ms(check.value("compiled_at", std::string()));
    if (compiled < 0) return Fail(out, "no compiled_at");
    out.latency_ms = static_cast<double>(compiled - due_ms);
    for (const auto& part : check.at("agencies")) {
      const auto answer = part.value("answer", nlohmann::json::object());
      const auto m = answer.find("match");
      const std::string match =
          m != answer.end() && m->is_string() ? m->get<std::string>() : "none";
      if (match == "confirmed") ++out.confirmed;
      if (match == "possible") ++out.possible;
    }
    out.review = !check.value("awaiting_agency_review", nlohmann::json::array()).empty();
    out.ok = true;
    return out;
  }

  void Close() {
    if (stream_) {
      beast::error_code ec;
      stream_->next_layer().shutdown(tcp::socket::shutdown_both, ec);
      stream_->next_layer().close(ec);
    }
    stream_.reset();
  }

  int reconnects() const { return reconnects_; }

 private:
  static Outcome Fail(Outcome& out, std::string why) {
    out.ok = false;
    out.error = std::move(why);
    return out;
  }

  bool Connect() {
    stream_.emplace(io_, tls_);
    beast::error_code ec;
    if (!SSL_set_tlsext_host_name(stream_->native_handle(), o_.host.c_str()) ||
        !mash::crypto::SetExpectedPeerName(stream_->native_handle(), o_.host).ok()) {
      error_ = "TLS setup";
      return false;
    }
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(o_.host, o_.port, ec);
    if (!ec) net::connect(stream_->next_layer(), endpoints, ec);
    if (!ec) stream_->next_layer().set_option(tcp::no_delay(true), ec);
    if (!ec) stream_->handshake(net::ssl::stream_base::client, ec);
    if (ec) {
      error_ = "connect: " + ec.message();
      stream_.reset();
      return false;
    }
    ++reconnects_;
    return true;
  }

  // One request on the keep-alive connection (connecting first when there is none); one retry
  // on a fresh connection when the broker had closed the old one.
  std::optional<std::pair<int, nlohmann::json>> Exchange(http::verb verb, const std::string& target,
                                                         const std::string* body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool fresh = !stream_;
      if (fresh && !Connect()) return std::nullopt;
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, o_.host);
      req.set(http::field::authorization, "Bearer " + o_.token);
      req.set(http::field::accept, "application/json");
      req.keep_alive(true);
      if (body != nullptr) {
        req.set(http::field::content_type, "application/json");
        req.body() = *body;
      }
      req.prepare_payload();
      beast::error_code ec;
      http::write(*stream_, req, ec);
      http::response_parser<http::string_body> parser;
      parser.body_limit(8 * 1024 * 1024);
      if (!ec) http::read(*stream_, buffer_, parser, ec);
      if (ec) {
        error_ = ec.message();
        Close();
        buffer_.clear();
        if (fresh) return std::nullopt;
        continue;  // the broker closed an idle or used-up connection: once more, fresh
      }
      auto res = parser.release();
      if (!res.keep_alive()) Close();
      auto parsed = nlohmann::json::parse(res.body(), nullptr, false);
      if (parsed.is_discarded()) parsed = nlohmann::json::object();
      return std::make_pair(static_cast<int>(res.result_int()), std::move(parsed));
    }
    return std::nullopt;
  }

  net::io_context& io_;
  net::ssl::context& tls_;
  const Options& o_;
  std::optional<beast::ssl_stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
  std::string error_;
  int reconnects_ = 0;
};

// ---- the hub's processes -------------------------------------------------------------------

struct ProcSample {
  double cpu_s = 0;  // utime + stime
};

std::optional<ProcSample> ReadStat(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  // Fields after the command name (which may hold spaces), from field 3 on.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string x; in >> x;) fields.push_back(x);
  if (fields.size() < 13) return std::nullopt;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcSample s;
  s.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / tick;  // utime, stime
  return s;
}

double PeakRssMb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

double SelfCpuS() {
  auto s = ReadStat(static_cast<int>(getpid()));
  return s ? s->cpu_s : 0;
}

double HubCpuS(const Options& o) {
  double total = 0;
  for (const auto& [name, pid] : o.pids) {
    if (auto s = ReadStat(pid)) total += s->cpu_s;
  }
  return total;
}

// ---- phases --------------------------------------------------------------------------------

struct Phase {
  std::string name;
  double seconds = 0;
  int64_t started = 0;
  int64_t completed = 0;
  int64_t errors = 0;
  int64_t reviews = 0;
  int64_t confirmed_checks = 0;
  int64_t possible_checks = 0;
  std::map<std::string, int64_t> error_kinds;
  std::vector<double> latencies;
  std::vector<double> observed;
  double hub_cpu_s = 0;
  double self_cpu_s = 0;
  double wall_s = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

class Load {
 public:
  Load(net::ssl::context& tls, const Options& o) : tls_(tls), o_(o) {
    for (const auto& r : o.requests.at("match")) match_.push_back(r.dump());
    for (const auto& r : o.requests.at("none")) none_.push_back(r.dump());
  }

  // Open loop: a check is due every 1/rate s; idle workers take them in order (up to `workers`
  // at once); latency counts from the due time, so a backlog shows.
  void OpenLoop(Phase& counted, double rate, double warmup, int workers) {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<int64_t, Steady::time_point>> due;  // (unix ms, steady)
    bool done = false;
    const auto start = Steady::now();
    const auto count_from = start + Seconds(warmup);
    const auto end = count_from + Seconds(counted.seconds);
    std::vector<std::thread> threads;
    Phase discard;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        net::io_context io;
        Connection c(io, tls_, o_);
        for (;;) {
          std::pair<int64_t, Steady::time_point> slot;
          {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return done || !due.empty(); });
            if (due.empty()) break;
            slot = due.front();
            due.pop_front();
          }
          Phase& into = slot.second >= count_from ? counted : discard;
          if (Steady::now() >= end) {
            // Still waiting for a worker when the schedule ended: the hub (or this generator)
            // fell behind. Counted as not raised rather than drained for minutes.
            Outcome missed;
            missed.error = "not raised: no worker free before the phase ended";
            Record(into, std::move(missed), mu);
            continue;
          }
          Record(into, c.RunCheck(NextBody(), slot.first, slot.second), mu);
        }
        c.Close();
        (void)w;
      });
    }
    const auto period = Seconds(1.0 / rate);
    const int64_t start_ms = NowUnixMs();
    double hub_cpu0 = 0, self_cpu0 = 0;
    int64_t wall0 = 0;
    bool counting = false;
    for (int64_t i = 0;; ++i) {
      const auto slot = start + std::chrono::duration_cast<Steady::duration>(period * i);
      if (slot >= end) break;
      std::this_thread::sleep_until(slot);
      if (!counting && slot >= count_from) {
        counting = true;
        hub_cpu0 = HubCpuS(o_);
        self_cpu0 = SelfCpuS();
        wall0 = NowUnixMs();
      }
      const int64_t slot_ms =
          start_ms + std::chrono::duration_cast<std::chrono::milliseconds>(slot - start).count();
      std::lock_guard lock(mu);
      due.emplace_back(slot_ms, slot);
      if (slot >= count_from) ++counted.started;
      cv.notify_one();
    }
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    counted.hub_cpu_s = HubCpuS(o_) - hub_cpu0;
    counted.self_cpu_s = SelfCpuS() - self_cpu0;
    counted.wall_s = static_cast<double>(NowUnixMs() - wall0) / 1000.0;
  }

  // Closed loop: `workers` practitioners, each raising its next check once the last one was
  // compiled. Counted: checks raised after the warm-up and compiled before the end.
  void ClosedLoop(Phase& counted, double warmup, int workers) {
    std::mutex mu;
    const auto start = Steady::now();
    const auto count_from = start + Seconds(warmup);
    const auto end = count_from + Seconds(counted.seconds);
    std::atomic<bool> counting{false};
    double hub_cpu0 = 0, self_cpu0 = 0;
    Phase discard;
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        net::io_context io;
        Connection c(io, tls_, o_);
        for (;;) {
          const auto now = Steady::now();
          if (now >= end) break;
          const bool count = now >= count_from;
          Outcome r = c.RunCheck(NextBody(), NowUnixMs(), now);
          const bool in_time = Steady::now() <= end;
          if (count && in_time) {
            std::lock_guard lock(mu);
            ++counted.started;
          }
          Record(count && in_time ? counted : discard, std::move(r), mu);
        }
        c.Close();
      });
    }
    std::this_thread::sleep_until(count_from);
    hub_cpu0 = HubCpuS(o_);
    self_cpu0 = SelfCpuS();
    counting = true;
    std::this_thread::sleep_until(end);
    counted.hub_cpu_s = HubCpuS(o_) - hub_cpu0;
    counted.self_cpu_s = SelfCpuS() - self_cpu0;
    counted.wall_s = counted.seconds;
    for (auto& t : threads) t.join();
  }

 private:
  static Steady::duration Seconds(double s) {
    return std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(s));
  }

  const std::string& NextBody() {
    const uint64_t n = next_.fetch_add(1);
    if (o_.match_every > 0 && n % static_cast<uint64_t>(o_.match_every) == 0) {
      return match_[(n / static_cast<uint64_t>(o_.match_every)) % match_.size()];
    }
    return none_[n % none_.size()];
  }

  static void Record(Phase& p, Outcome r, std::mutex& mu) {
    std::lock_guard lock(mu);
    if (!r.ok) {
      ++p.errors;
      ++p.error_kinds[r.error];
      return;
    }
    ++p.completed;
    p.latencies.push_back(r.latency_ms);
    p.observed.push_back(r.observed_ms);
    if (r.review) ++p.reviews;
    if (r.confirmed > 0) ++p.confirmed_checks;
    if (r.possible > 0) ++p.possible_checks;
  }

  net::ssl::context& tls_;
  const Options& o_;
  std::vector<std::string> match_;
  std::vector<std::string> none_;
  std::atomic<uint64_t> next_{0};
};

void Print(const Phase& p) {
  std::printf(
      "%s: %lld raised, %lld compiled, %lld errors in %.1f s (%.1f checks/s); latency p50 %.1f "
      "p95 %.1f p99 %.1f max %.1f ms (read back p99 %.1f ms); %lld with a confirmed match, %lld "
      "with a possible one, %lld waiting for a custodian; hub CPU %.2f s (%.2f ms/check), "
      "generator CPU %.2f s\n",
      p.name.c_str(), static_cast<long long>(p.started), static_cast<long long>(p.completed),
      static_cast<long long>(p.errors), p.wall_s,
      p.wall_s > 0 ? static_cast<double>(p.completed) / p.wall_s : 0.0, Percentile(p.latencies, 50),
      Percentile(p.latencies, 95), Percentile(p.latencies, 99), Percentile(p.latencies, 100),
      Percentile(p.observed, 99), static_cast<long long>(p.confirmed_checks),
      static_cast<long long>(p.possible_checks), static_cast<long long>(p.reviews), p.hub_cpu_s,
      p.completed > 0 ? p.hub_cpu_s * 1000 / static_cast<double>(p.completed) : 0.0, p.self_cpu_s);
  for (const auto& [kind, n] : p.error_kinds) {
    std::printf("  %s: %lld error(s): %s\n", p.name.c_str(), static_cast<long long>(n),
                kind.c_str());
  }
}

// ---- ceilings ------------------------------------------------------------------------------

class MemoryReplay final : public mash::crypto::ReplayGuard {
 public:
  mash::Status CheckAndRecord(const std::string&, const std::string& id, uint64_t,
                              int64_t) override {
    if (!seen_.insert(id).second) return mash::AlreadyExists("replayed");
    return mash::Status::Ok();
  }

 private:
  std::set<std::string> seen_;
};

// Seals `plaintext` from `from` to `to` and opens it there, as the broker and agents do.
bool SealAndOpen(const std::string& type, const std::string& from_id,
                 const mash::crypto::SigningKey& from, const std::string& to_id,
                 const mash::crypto::EncryptionKey& to, const std::string& plaintext, uint64_t seq,
                 mash::common::RandomSource& random, MemoryReplay& replay) {
  mash::crypto::EnvelopeHeader h;
  h.type = type;
  h.id = random.Hex(16);
  h.sender = from_id;
  h.sender_key = from.Public().Fingerprint();
  h.recipient = to_id;
  h.recipient_key = to.Public().Fingerprint();
  h.issued_at = NowUnixMs() / 1000;
  h.expires_at = h.issued_at + 120;
  h.sequence = seq;
  h.check_ref = std::string(32, 'a');
  h.purpose = "child-protection-s47";
  h.lawful_basis = "uk-gdpr-6-1-e";
  h.consent = "given";
  h.urgency = "amber";
  h.policy_hash = "sha256:" + std::string(64, 'b');
  auto sealed = mash::crypto::Seal(
      h, std::span(reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()), from,
      to.Public(), random);
  if (!sealed.ok()) return false;
  // On the wire as JSON text, parsed back at the other end.
  auto parsed =
      mash::crypto::SealedEnvelope::FromJson(nlohmann::json::parse(sealed->ToJson().dump()));
  if (!parsed.ok()) return false;
  mash::crypto::OpenExpectations expect{from_id, &from.Public(), to_id, &to, h.issued_at};
  return mash::crypto::Open(*parsed, expect, replay).ok();
}

// Checks per second that the envelope crypto alone allows on one core.
double CryptoCeiling(const Options& o) {
  mash::common::SystemRandom random;
  const auto hub_sign = mash::crypto::SigningKey::Generate();
  const auto hub_enc = mash::crypto::EncryptionKey::Generate();
  std::vector<mash::crypto::SigningKey> agent_sign;
  std::vector<mash::crypto::EncryptionKey> agent_enc;
  for (int a = 0; a < 6; ++a) {
    agent_sign.push_back(mash::crypto::SigningKey::Generate());
    agent_enc.push_back(mash::crypto::EncryptionKey::Generate());
  }
  // Bodies of the sizes the hub sends: a query for one of the requests, a "not held" answer with
  // its policy version and source, and a receipt with an inclusion proof of ~17 hashes.
  nlohmann::json q = o.requests.at("none").at(0);
  const std::string query = nlohmann::json{
      {"query_id", std::string(32, 'c')},
      {"level", 1},
      {"subject", q.at("subject")},
      {"categories",
       q.at("categories")}}.dump();
  const std::string answer = nlohmann::json{
      {"query_id", std::string(32, 'c')},
      {"held", false},
      {"match", "none"},
      {"policy_version", "sha256:" + std::string(64, 'd')},
      {"source", "Agency records (synthetic)"},
      {"categories",
       nlohmann::json::array()}}.dump();
  nlohmann::json proof = nlohmann::json::array();
  for (int i = 0; i < 17; ++i) proof.push_back(std::string(64, 'e'));
  const std::string receipt =
      nlohmann::json{
          {"answer_id", std::string(32, 'f')},
          {"answer_hash", std::string(64, '1')},
          {"event", std::string(600, 'A')},
          {"receipt", {{"seq", 123456}, {"proof", proof}, {"checkpoint", std::string(400, 'B')}}}}
          .dump();
  MemoryReplay at_hub, at_agents;
  uint64_t seq = 0;
  int checks = 0;
  const auto start = Steady::now();
  const auto stop = start + std::chrono::seconds(3);
  while (Steady::now() < stop) {
    for (int a = 0; a < 6; ++a) {
      const std::string id = "agency-" + std::to_string(a);
      ++seq;
      if (!SealAndOpen("query", "hub", hub_sign, id, agent_enc[a], query, seq, random, at_agents) ||
          !SealAndOpen("answer", id, agent_sign[a], "hub", hub_enc, answer, seq, random, at_hub) ||
          !SealAndOpen("receipt", "hub", hub_sign, id, agent_enc[a], receipt, seq + 1000000000,
                       random, at_agents)) {
        std::fprintf(stderr, "mash_e2e_load: the crypto loop failed\n");
        return -1;
      }
    }
    ++checks;
  }
  const double s = std::chrono::duration<double>(Steady::now() - start).count();
  return checks / s;
}

// Raw write+fsync of 512-byte blocks appended to a file in `dir`, for two seconds.
double FsyncRate(const std::string& dir) {
  const std::string path = dir + "/fsync-probe.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  char block[512];
  std::fill(std::begin(block), std::end(block), 'x');
  int n = 0;
  const auto start = Steady::now();
  while (Steady::now() - start < std::chrono::seconds(2)) {
    if (::write(fd, block, sizeof block) != static_cast<ssize_t>(sizeof block) ||
        ::fsync(fd) != 0) {
      ::close(fd);
      return -1;
    }
    ++n;
  }
  const double s = std::chrono::duration<double>(Steady::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  return n / s;
}

int Usage() {
  std::fprintf(stderr,
               "usage: mash_e2e_load --url https://HOST:PORT --ca FILE --crls A:B --token-file F "
               "--requests FILE [--rate R] [--phase1 S] [--phase2 S] [--warmup S] "
               "[--concurrency C] [--match-every K] --pids name=PID,... --data-dir DIR "
               "[--records N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // what was measured survives a later failure
  if (sodium_init() < 0) {
    std::fprintf(stderr, "mash_e2e_load: libsodium cannot start\n");
    return 1;
  }
  Options o;
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]).rfind("--", 0) != 0) return Usage();
    args[argv[i] + 2] = argv[i + 1];
  }
  try {
    const std::string url = args.at("url");
    const auto colon = url.rfind(':');
    if (url.rfind("https://", 0) != 0 || colon < 8) return Usage();
    o.host = url.substr(8, colon - 8);
    o.port = url.substr(colon + 1);
    o.ca = args.at("ca");
    o.crls = Split(args.at("crls"), ':');
    std::ifstream token(args.at("token-file"));
    std::getline(token, o.token);
    std::ifstream requests(args.at("requests"));
    o.requests = nlohmann::json::parse(requests);
    if (args.count("rate")) o.rate = std::stod(args["rate"]);
    if (args.count("phase1")) o.phase1 = std::stod(args["phase1"]);
    if (args.count("phase2")) o.phase2 = std::stod(args["phase2"]);
    if (args.count("warmup")) o.warmup = std::stod(args["warmup"]);
    if (args.count("concurrency")) o.concurrency = std::stoi(args["concurrency"]);
    if (args.count("match-every")) o.match_every = std::stoi(args["match-every"]);
    if (args.count("records")) o.records = std::stoll(args["records"]);
    for (const auto& p : Split(args.at("pids"), ',')) {
      const auto eq = p.find('=');
      if (eq == std::string::npos) return Usage();
      o.pids.emplace_back(p.substr(0, eq), std::stoi(p.substr(eq + 1)));
    }
    o.data_dir = args.at("data-dir");
  } catch (const std::exception&) {
    return Usage();
  }
  if (o.token.empty() || o.requests.at("match").empty() || o.requests.at("none").empty() ||
      o.rate <= 0 || o.concurrency < 1) {
    return Usage();
  }

  mash::crypto::TlsOptions tls;
  tls.role = mash::crypto::TlsRole::kClient;
  tls.ca_file = o.ca;
  for (const auto& c : o.crls) tls.crl_files.emplace_back(c);
  auto context = mash::crypto::MakeTlsContext(tls);
  if (!context.ok()) {
    std::fprintf(stderr, "mash_e2e_load: %s\n", context.status().ToString().c_str());
    return 1;
  }

  Load load(**context, o);
  Phase fixed;
  fixed.name = "phase 1 (" + std::to_string(static_cast<int>(o.rate)) + " checks/s offered)";
  fixed.seconds = o.phase1;
  load.OpenLoop(fixed, o.rate, o.warmup, 256);
  Print(fixed);
  Phase flat;
  flat.name = "phase 2 (" + std::to_string(o.concurrency) + " practitioners back to back)";
  flat.seconds = o.phase2;
  load.ClosedLoop(flat, o.warmup, o.concurrency);
  Print(flat);

  double broker_rss = 0, agent_rss = 0;
  std::string largest_agent;
  for (const auto& [name, pid] : o.pids) {
    const double rss = PeakRssMb(pid);
    if (name == "broker") {
      broker_rss = rss;
    } else if (rss > agent_rss) {
      agent_rss = rss;
      largest_agent = name;
    }
  }
  std::printf("peak RSS: broker %.1f MB, largest agent (%s) %.1f MB\n", broker_rss,
              largest_agent.c_str(), agent_rss);
  const double crypto = CryptoCeiling(o);
  std::printf("crypto ceiling: %.0f checks/s on one core (6 queries, 6 answers, 6 receipts)\n",
              crypto);
  const double fsyncs = FsyncRate(o.data_dir);
  std::printf("raw fsync: %.0f write+fsync/s of 512 bytes in the broker's data folder\n", fsyncs);

  const double checks_per_s =
      flat.wall_s > 0 ? static_cast<double>(flat.completed) / flat.wall_s : 0.0;
  const auto r1 = [](double v) { return std::round(v * 10) / 10; };
  const auto r2 = [](double v) { return std::round(v * 100) / 100; };
  nlohmann::ordered_json j;
  j["bench"] = "e2e";
  j["checks_per_s"] = r1(checks_per_s);
  j["p50_ms"] = r1(Percentile(flat.latencies, 50));
  j["p95_ms"] = r1(Percentile(flat.latencies, 95));
  j["p99_ms"] = r1(Percentile(flat.latencies, 99));
  j["p99_ms_at_100"] = r1(Percentile(fixed.latencies, 99));
  j["cpu_ms_per_check"] =
      r2(flat.completed > 0 ? flat.hub_cpu_s * 1000 / static_cast<double>(flat.completed) : 0);
  j["broker_rss_mb"] = r1(broker_rss);
  j["agent_rss_mb"] = r1(agent_rss);
  j["crypto_ceiling_checks_per_s"] = std::round(crypto);
  j["fsync_per_s"] = std::round(fsyncs);
  j["offered_per_s"] = o.rate;
  j["achieved_at_100_per_s"] =
      r1(fixed.wall_s > 0 ? static_cast<double>(fixed.completed) / fixed.wall_s : 0.0);
  j["p50_ms_at_100"] = r1(Percentile(fixed.latencies, 50));
  j["cpu_ms_per_check_at_100"] =
      r2(fixed.completed > 0 ? fixed.hub_cpu_s * 1000 / static_cast<double>(fixed.completed) : 0);
  j["errors"] = fixed.errors + flat.errors;
  j["reviews"] = fixed.reviews + flat.reviews;
  j["phase1_s"] = o.phase1;
  j["phase2_s"] = o.phase2;
  j["concurrency"] = o.concurrency;
  j["records_per_agency"] = o.records;
  j["cores"] = std::thread::hardware_concurrency();
  std::printf("%s\n", j.dump().c_str());
  return fixed.errors + flat.errors == 0 ? 0 : 1;
}
