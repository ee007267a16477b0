#include "mash/broker/api_server.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "mash/broker/console.h"
#include "mash/broker/metrics.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"
#include "mash/schemas/validator.h"

namespace mash::broker {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

inline constexpr size_t kHeaderLimit = 8 * 1024;
inline constexpr size_t kBodyLimit = 64 * 1024;
inline constexpr int kMaxRequestsPerConnection = 1000;
// After a failed accept (EMFILE, ENFILE, ENOBUFS: the connection stays in the backlog, so an
// immediate retry fails again at once) the acceptor waits this long instead of spinning.
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// Failed accepts and shed connections are logged at most once per this interval, with counts.
inline constexpr auto kSheddingLogInterval = std::chrono::seconds(10);

struct ApiServer::Impl {
  Impl(net::io_context& io_ctx, std::shared_ptr<net::ssl::context> ctx, ApiOptions opts,
       CheckService* svc, EnrolmentAuthority* enrol, StaffDirectory* dir, Console* con)
      : io(io_ctx),
        acceptor(io_ctx),
        accept_retry(io_ctx),
        tls(std::move(ctx)),
        options(std::move(opts)),
        checks(svc),
        enrolment(enrol),
        staff(dir),
        console(con) {}
  net::io_context& io;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  std::shared_ptr<net::ssl::context> tls;
  ApiOptions options;
  CheckService* checks;
  EnrolmentAuthority* enrolment;  // may be null
  StaffDirectory* staff;          // may be null: only broker.toml tokens
  Console* console;               // may be null: no web console
  int connections = 0;
  bool stopped = false;
  std::set<void*> sessions;  // ApiSession*, for Stop()
  // Sessions without a complete request yet, oldest first (by the order they were accepted).
  std::map<uint64_t, void*> pending;
  uint64_t next_order = 0;
  // Counted between log lines (kSheddingLogInterval).
  uint64_t accept_failures = 0;
  uint64_t shed = 0;
  std::chrono::steady_clock::time_point last_accept_log{};
  std::chrono::steady_clock::time_point last_shed_log{};

  // The user a bearer token belongs to, or nullopt. Compares hashes in constant time and looks
  // at every entry, so timing says nothing about which entry matched.
  std::optional<ApiToken> Authenticate(std::string_view authorization) const {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.substr(0, kBearer.size()) != kBearer) return std::nullopt;
    const auto token = authorization.substr(kBearer.size());
    if (token.empty() || token.size() > 256) return std::nullopt;
    const auto digest = crypto::Sha256(common::AsBytes(token));
    const std::string hex = common::HexEncode(digest);
    std::optional<ApiToken> found;
    for (const auto& t : options.tokens) {
      if (crypto::ConstantTimeEqual(common::AsBytes(hex), common::AsBytes(t.sha256))) found = t;
    }
    return found;
  }

  // The staff member behind an Authorization header: a broker.toml token first (bootstrap and
  // service accounts), then a session or personal token of the staff directory.
  std::optional<Staff> AuthenticateStaff(std::string_view authorization) const {
    if (auto t = Authenticate(authorization)) return Staff{t->user, t->role, "hub", t->team};
    constexpr std::string_view kBearer = "Bearer ";
    if (staff == nullptr || authorization.substr(0, kBearer.size()) != kBearer) {
      return std::nullopt;
    }
    return staff->Authenticate(authorization.substr(kBearer.size()));
  }
};

namespace {

http::response<http::string_body> JsonResponse(http::status status, const nlohmann::json& body,
                                               unsigned version, bool keep_alive) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "mash-broker");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(keep_alive);
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

nlohmann::json ErrorBody(std::string_view code, std::string_view message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

class ApiSession : public std::enable_shared_from_this<ApiSession> {
 public:
  ApiSession(tcp::socket&& socket, ApiServer::Impl* server)
      : tls_(server->tls),
        stream_(std::move(socket), *tls_),
        server_(server),
        order_(server->next_order++) {
    ++server_->connections;
    server_->sessions.insert(this);
    server_->pending.emplace(order_, this);
  }
  ~ApiSession() {
    --server_->connections;
    server_->sessions.erase(this);
    LeavePending();
  }

  // No longer counted as pending: it sent a complete request, or it is being shed.
  void LeavePending() { server_->pending.erase(order_); }

  void Run() {
    beast::get_lowest_layer(stream_).expires_after(server_->options.request_timeout);
    stream_.async_handshake(
        net::ssl::stream_base::server,
        beast::bind_front_handler(&ApiSession::OnHandshake, shared_from_this()));
  }

  void Abort() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  void OnHandshake(beast::error_code ec) {
    if (ec) return common::LogDebug("api.tls_failed", {{"error", ec.message()}});
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    beast::get_lowest_layer(stream_).expires_after(server_->options.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&ApiSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return DoShutdown();
    if (ec == http::error::body_limit) {
      return Write(JsonResponse(http::status::payload_too_large,
                                ErrorBody("too_large", "request body too large"), 11, false));
    }
    if (ec) return;  // timeouts and broken connections: nothing to answer
    LeavePending();
    Handle(parser_->release());
  }

  // Answers `req`, at once or (for what must be audited first) when the audit log has
  // committed the request's event.
  void Handle(const http::request<http::string_body>& req) {
    const unsigned v = req.version();
    const bool ka = req.keep_alive() && ++requests_ < kMaxRequestsPerConnection;
    // Everything outside /api/ is the web console's (console.h), when it is enabled.
    if (!req.target().starts_with("/api/")) {
      if (server_->console == nullptr) {
        return Write(JsonResponse(http::status::not_found,
                                  ErrorBody("not_found", "no such resource"), v, ka));
      }
      http::request<http::string_body> copy = req;
      copy.keep_alive(ka);
      return server_->console->Handle(copy, [self = shared_from_this()](ConsoleReply reply) {
        self->WriteConsole(std::move(reply));
      });
    }
    // Enrolment and renewal carry their own credential (a one-time token, a signature), not a
    // staff bearer token.
    if (req.target() == "/api/v1/enrol" || req.target() == "/api/v1/renew" ||
        req.target() == "/api/v1/enrol/ca") {
      return Write(HandleEnrolment(req, v, ka));
    }
    // Logging in and making a personal token carry a password, not a bearer token.
    if ((req.target() == "/api/v1/session" && req.method() == http::verb::post) ||
        req.target() == "/api/v1/tokens") {
      return HandleLogin(req, v, ka);
    }
    const auto authenticated = server_->AuthenticateStaff(req[http::field::authorization]);
    if (!authenticated) {
      common::LogWarn("api.unauthenticated", {{"target_kind", TargetKind(req.target())}});
      server_->checks->RecordUnauthenticated();
      // Not kept alive: a peer without credentials does not get to hold a connection open.
      auto res = JsonResponse(http::status::unauthorized,
                              ErrorBody("unauthenticated", "authentication required"), v, false);
      res.set(http::field::www_authenticate, "Bearer");
      return Write(std::move(res));
    }
    const Staff staff = *authenticated;
    const std::string_view full_target = req.target();
    const std::string_view target = full_target.substr(0, full_target.find('?'));
    const std::string_view query = target.size() < full_target.size()
                                       ? full_target.substr(target.size() + 1)
                                       : std::string_view();
    if (target == "/api/v1/session" || target.starts_with("/api/v1/users")) {
      return HandleStaff(req, staff, v, ka);
    }
    static const std::regex kCheckPath("^/api/v1/checks/([0-9a-f]{32})$");
    std::cmatch m;
    if (target == "/api/v1/checks" && req.method() == http::verb::get) {
      std::string state;
      if (!query.empty()) {
        static const std::regex kStateQuery("^state=([a-z_]{1,32})$");
        std::cmatch q;
        if (!std::regex_match(query.begin(), query.end(), q, kStateQuery)) {
          return Write(JsonResponse(
              http::status::bad_request,
              ErrorBody("invalid",
                        "the only query is state=open|overdue|awaiting_authorisation|closed"),
              v, ka));
        }
        state = q[1].str();
      }
      auto listed = server_->checks->List(staff, state);
      if (!listed.ok() && listed.status().code() == StatusCode::kPermissionDenied) {
        server_->checks->RecordRefusal(staff, "list: role");
      }
      return Write(Reply(std::move(listed), http::status::ok, v, ka));
    }
    if (target.starts_with("/api/v1/alerts")) return HandleAlerts(req, staff, target, query, v, ka);
    static const std::regex kDecisionPath("^/api/v1/checks/([0-9a-f]{32})/decision$");
    if (std::regex_match(target.begin(), target.end(), m, kDecisionPath)) {
      if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
      auto body = ObjectBody(req, staff, {"outcome", "rationale"});
      if (!body) {
        return Write(InvalidBody(v, ka, "send {\"outcome\": \"...\", \"rationale\": \"...\"}"));
      }
      return server_->checks->Decide(m[1].str(), staff, (*body)["outcome"], (*body)["rationale"],
                                     [self = shared_from_this(), v, ka](Result<nlohmann::json> r) {
                                       self->Write(Reply(std::move(r), http::status::ok, v, ka));
                                     });
    }
    if (target == "/api/v1/checks") {
      if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
      if (req[http::field::content_type].substr(0, 16) != "application/json") {
        return Write(JsonResponse(http::status::unsupported_media_type,
                                  ErrorBody("bad_request", "send application/json"), v, ka));
      }
      auto body = schemas::ParseJson(req.body(), kBodyLimit, 16);
      if (!body.ok()) {
        server_->checks->RecordRefusal(staff, "malformed_request");
        return Write(JsonResponse(http::status::bad_request,
                                  ErrorBody("bad_request", body.status().message()), v, ka));
      }
      auto request = RaiseRequest::FromJson(*body);
      if (!request.ok()) {
        server_->checks->RecordRefusal(staff, "invalid_request");
        return Write(JsonResponse(http::status::bad_request,
                                  ErrorBody("invalid", request.status().message()), v, ka));
      }
      return server_->checks->Raise(
          *request, staff, [self = shared_from_this(), v, ka](Result<nlohmann::json> r) {
            self->Write(Reply(std::move(r), http::status::created, v, ka));
          });
    }
    static const std::regex kAuthorisationPath("^/api/v1/checks/([0-9a-f]{32})/authorisation$");
    if (std::regex_match(target.begin(), target.end(), m, kAuthorisationPath)) {
      if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
      auto body = schemas::ParseJson(req.body(), kBodyLimit, 4);
      if (!body.ok() || !body->is_object() || body->size() != 2 || !body->contains("decision") ||
          !body->contains("reason") || !(*body)["decision"].is_string() ||
          !(*body)["reason"].is_string()) {
        server_->checks->RecordRefusal(staff, "malformed_request");
        return Write(JsonResponse(
            http::status::bad_request,
            ErrorBody("invalid",
                      "send {\"decision\": \"authorise\"|\"reject\", \"reason\": \"...\"}"),
            v, ka));
      }
      const std::string decision = (*body)["decision"];
      const std::string reason = (*body)["reason"];
      if ((decision != "authorise" && decision != "reject") || reason.size() > 4000) {
        server_->checks->RecordRefusal(staff, "invalid_request");
        return Write(JsonResponse(http::status::bad_request,
                                  ErrorBody("invalid", "/decision or /reason is not valid"), v,
                                  ka));
      }
      return server_->checks->Authorise(
          m[1].str(), staff, decision == "authorise", reason,
          [self = shared_from_this(), v, ka](Result<nlohmann::json> r) {
            self->Write(Reply(std::move(r), http::status::ok, v, ka));
          });
    }
    if (std::regex_match(target.begin(), target.end(), m, kCheckPath)) {
      if (req.method() != http::verb::get) return Write(MethodNotAllowed(v, ka));
      // ?wait=S (0-30): a long poll until no agency is left to answer (CheckService::Show).
      std::chrono::seconds wait{0};
      if (!query.empty()) {
        static const std::regex kWaitQuery("^wait=([0-9]{1,2})$");
        std::cmatch q;
        if (!std::regex_match(query.begin(), query.end(), q, kWaitQuery) ||
            std::stoi(q[1].str()) > CheckService::kMaxWait.count()) {
          return Write(JsonResponse(http::status::bad_request,
                                    ErrorBody("invalid", "the only query is wait=0..30 (seconds)"),
                                    v, ka));
        }
        wait = std::chrono::seconds(std::stoi(q[1].str()));
      }
      return server_->checks->Show(
          m[1].str(), staff,
          [self = shared_from_this(), v, ka](Result<nlohmann::json> r) {
            self->Write(Reply(std::move(r), http::status::ok, v, ka));
          },
          wait);
    }
    if (target == "/api/v1/agencies" && req.method() == http::verb::post) {
      if (staff.role != "admin") {
        server_->checks->RecordRefusal(staff, "agency add needs the admin role");
        return Write(JsonResponse(http::status::forbidden,
                                  ErrorBody("refused", "this needs the admin role"), v, ka));
      }
      if (server_->enrolment == nullptr)
        return Write(Reply(Unavailable(""), http::status::ok, v, ka));
      auto body = schemas::ParseJson(req.body(), kBodyLimit, 4);
      if (!body.ok()) {
        return Write(JsonResponse(http::status::bad_request,
                                  ErrorBody("bad_request", body.status().message()), v, ka));
      }
      auto added = server_->enrolment->AddAgency(*body, staff.user);
      if (!added.ok() && added.status().code() == StatusCode::kAlreadyExists) {
        server_->checks->RecordRefusal(staff, "agency add: " + added.status().message());
        return Write(JsonResponse(http::status::conflict,
                                  ErrorBody("conflict", added.status().message()), v, ka));
      }
      return Write(Reply(std::move(added), http::status::created, v, ka));
    }
    if (target == "/api/v1/agencies") {
      if (req.method() != http::verb::get) return Write(MethodNotAllowed(v, ka));
      return Write(
          JsonResponse(http::status::ok, {{"agencies", server_->checks->Agencies()}}, v, ka));
    }
    Write(JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
  }

  // The IG alert queue (AlertQueue): the list with its filters, one alert, and status changes.
  void HandleAlerts(const http::request<http::string_body>& req, const Staff& staff,
                    std::string_view target, std::string_view query, unsigned v, bool ka) {
    AlertQueue* alerts = server_->checks->alerts();
    if (alerts == nullptr) {
      return Write(
          JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
    }
    if (target == "/api/v1/alerts") {
      if (req.method() != http::verb::get) return Write(MethodNotAllowed(v, ka));
      auto filter = AlertQuery(query);
      if (!filter) {
        return Write(JsonResponse(http::status::bad_request,
                                  ErrorBody("invalid",
                                            "the queries are status=..., kind=... (repeated or "
                                            "comma-separated) and all=true"),
                                  v, ka));
      }
      return Write(Reply(alerts->List(staff, *filter), http::status::ok, v, ka));
    }
    static const std::regex kAlertPath(
        "^/api/v1/alerts/([0-9a-f]{32})(/status|/acknowledgement)?$");
    std::cmatch m;
    if (!std::regex_match(target.begin(), target.end(), m, kAlertPath)) {
      return Write(
          JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
    }
    const std::string id = m[1].str();
    auto reply = [self = shared_from_this(), v, ka](Result<nlohmann::json> r) {
      self->Write(Reply(std::move(r), http::status::ok, v, ka));
    };
    if (!m[2].matched) {
      if (req.method() != http::verb::get) return Write(MethodNotAllowed(v, ka));
      return Write(Reply(alerts->Get(staff, id), http::status::ok, v, ka));
    }
    if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
    if (m[2].str() == "/acknowledgement") {
      auto body = ObjectBody(req, staff, {"note"});
      if (!body) return Write(InvalidBody(v, ka, "send {\"note\": \"...\"}"));
      return alerts->Acknowledge(id, staff, (*body)["note"], reply);
    }
    // {"status": "...", "note": "..."}; the note may be left out to take an alert under review.
    auto body = schemas::ParseJson(req.body(), kBodyLimit, 4);
    bool ok = body.ok() && body->is_object() && body->contains("status") &&
              (*body)["status"].is_string() && body->size() <= 2;
    if (ok && body->size() == 2) {
      ok = body->contains("note") && (*body)["note"].is_string() &&
           (*body)["note"].get_ref<const std::string&>().size() <= 8000;
    }
    if (!ok) {
      server_->checks->RecordRefusal(staff, "malformed_request");
      return Write(InvalidBody(v, ka, "send {\"status\": \"...\", \"note\": \"...\"}"));
    }
    return alerts->ChangeStatus(id, staff, (*body)["status"], body->value("note", std::string()),
                                reply);
  }

  // The filter of GET /api/v1/alerts: status=, kind= (repeated or comma-separated values of
  // lower-case letters and '_') and all=true (every status); nullopt for anything else.
  static std::optional<AlertFilter> AlertQuery(std::string_view query) {
    AlertFilter filter;
    bool all = false;
    static const std::regex kPair("^(status|kind|all)=([a-z_,]{1,64})$");
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      std::cmatch m;
      if (!std::regex_match(pair.begin(), pair.end(), m, kPair)) return std::nullopt;
      const std::string key = m[1].str();
      const std::string value = m[2].str();
      if (key == "all") {
        if (value != "true") return std::nullopt;
        all = true;
        continue;
      }
      size_t start = 0;
      while (start <= value.size()) {
        const size_t comma = value.find(',', start);
        const std::string item =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty()) return std::nullopt;
        (key == "status" ? filter.statuses : filter.kinds).insert(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (all) {
      if (!filter.statuses.empty()) return std::nullopt;
      for (auto s : kAlertStatuses) filter.statuses.insert(std::string(s));
    }
    return filter;
  }

  // The JSON object body of `req` when it has exactly the string members `keys` (each at most
  // 8000 bytes); nullopt otherwise, and the refusal is recorded.
  std::optional<nlohmann::json> ObjectBody(const http::request<http::string_body>& req,
                                           const Staff& staff,
                                           std::initializer_list<const char*> keys) {
    auto body = schemas::ParseJson(req.body(), kBodyLimit, 4);
    bool ok = body.ok() && body->is_object() && body->size() == keys.size();
    for (const char* k : keys) {
      if (!ok) break;
      const auto it = body->find(k);
      ok = it != body->end() && it->is_string() && it->get_ref<const std::string&>().size() <= 8000;
    }
    if (!ok) {
      server_->checks->RecordRefusal(staff, "malformed_request");
      return std::nullopt;
    }
    return std::move(*body);
  }

  static http::response<http::string_body> InvalidBody(unsigned v, bool ka, std::string_view hint) {
    return JsonResponse(http::status::bad_request, ErrorBody("invalid", hint), v, ka);
  }

  // POST /api/v1/session and /api/v1/tokens: any failure to authenticate is one generic 401;
  // the reason is in the log and the audit trail (StaffDirectory).
  void HandleLogin(const http::request<http::string_body>& req, unsigned v, bool ka) {
    if (server_->staff == nullptr) {
      return Write(
          JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
    }
    if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
    const bool session = req.target() == "/api/v1/session";
    auto body = schemas::ParseJson(req.body(), kBodyLimit, 2);
    std::string error;
    const std::set<std::string> allowed =
        session ? std::set<std::string>{"user", "password"}
                : std::set<std::string>{"user", "password", "new_password", "days", "label"};
    if (!body.ok() || !body->is_object()) {
      error = "send a JSON object";
    } else {
      for (const auto& [name, value] : body->items()) {
        if (allowed.count(name) == 0) {
          error = "/" + name + " is not a known field";
        } else if (name == "days" ? !value.is_number_integer() : !value.is_string()) {
          error = "/" + name + (name == "days" ? " must be an integer" : " must be a string");
        }
      }
      if (error.empty() && (!body->contains("user") || !body->contains("password"))) {
        error = "/user and /password are required";
      }
    }
    if (!error.empty()) {
      return Write(JsonResponse(http::status::bad_request, ErrorBody("invalid", error), v, ka));
    }
    const std::string user = (*body)["user"];
    const std::string password = (*body)["password"];
    auto reply = [self = shared_from_this(), v, ka, session](Result<IssuedCredential> r) {
      if (!r.ok()) return self->Write(StaffReply(r.status(), v, ka));
      nlohmann::json out = {{"token", r->token},
                            {"expires_at", common::FormatRfc3339(common::FromUnix(r->expires_at))}};
      if (session) {
        out["user"] = r->staff.user;
        out["role"] = r->staff.role;
        out["team"] = r->staff.team;
      }
      crypto::Wipe({reinterpret_cast<uint8_t*>(r->token.data()), r->token.size()});
      self->Write(JsonResponse(http::status::created, out, v, ka));
    };
    if (session) return server_->staff->Login(user, password, std::move(reply));
    std::optional<std::string> new_password;
    if (body->contains("new_password")) new_password = (*body)["new_password"];
    const int64_t days = body->value("days", int64_t{0});
    if (days < 1 && body->contains("days")) {
      return Write(JsonResponse(http::status::bad_request,
                                ErrorBody("invalid", "/days must be a positive integer"), v, ka));
    }
    server_->staff->IssueToken(user, password, new_password,
                               static_cast<int>(std::min<int64_t>(days, 100000)),
                               body->value("label", std::string()), std::move(reply));
  }

  // DELETE /api/v1/session and the admin's /api/v1/users routes.
  void HandleStaff(const http::request<http::string_body>& req, const Staff& staff, unsigned v,
                   bool ka) {
    StaffDirectory* dir = server_->staff;
    const std::string_view target = req.target();
    if (dir == nullptr) {
      return Write(
          JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
    }
    if (target == "/api/v1/session") {
      if (req.method() != http::verb::delete_) return Write(MethodNotAllowed(v, ka));
      const auto authorization = req[http::field::authorization];
      if (Status s = dir->Logout(authorization.substr(7)); !s.ok()) {
        return Write(StaffReply(s, v, ka));
      }
      http::response<http::string_body> res{http::status::no_content, v};
      res.set(http::field::server, "mash-broker");
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(ka);
      return Write(std::move(res));
    }
    const bool list = target == "/api/v1/users" && req.method() == http::verb::get;
    const bool add = target == "/api/v1/users" && req.method() == http::verb::post;
    const bool disable = target == "/api/v1/users/disable";
    const bool reset = target == "/api/v1/users/reset";
    if (!list && !add && !disable && !reset) {
      if (target == "/api/v1/users") return Write(MethodNotAllowed(v, ka));
      return Write(
          JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v, ka));
    }
    if (staff.role != "admin") {
      server_->checks->RecordRefusal(staff, "user administration needs the admin role");
      return Write(JsonResponse(http::status::forbidden,
                                ErrorBody("refused", "this needs the admin role"), v, ka));
    }
    if (list) {
      auto users = dir->ListUsers();
      if (!users.ok()) return Write(StaffReply(users.status(), v, ka));
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : *users) {
        out.push_back(
            {{"user", u.user},
             {"name", u.name},
             {"role", u.role},
             {"team", u.team},
             {"disabled", u.disabled},
             {"one_time_password", u.one_time_password},
             {"failed_attempts", u.failed_attempts},
             {"locked_until",
              u.locked_until > 0 ? common::FormatRfc3339(common::FromUnix(u.locked_until)) : ""},
             {"created_at", common::FormatRfc3339(common::FromUnix(u.created_at))}});
      }
      return Write(JsonResponse(http::status::ok, {{"users", out}}, v, ka));
    }
    if (req.method() != http::verb::post) return Write(MethodNotAllowed(v, ka));
    auto body = schemas::ParseJson(req.body(), kBodyLimit, 2);
    const std::vector<std::string> fields =
        add ? std::vector<std::string>{"user", "name", "role", "team"}
            : std::vector<std::string>{"user"};
    std::string error;
    if (!body.ok() || !body->is_object()) {
      error = "send a JSON object";
    } else {
      for (const auto& [name, value] : body->items()) {
        if (std::find(fields.begin(), fields.end(), name) == fields.end()) {
          error = "/" + name + " is not a known field";
        }
      }
      for (const auto& f : fields) {
        if (error.empty() && (!body->contains(f) || !(*body)[f].is_string())) {
          error = "/" + f + " is required and must be a string";
        }
      }
    }
    if (!error.empty()) {
      return Write(JsonResponse(http::status::bad_request, ErrorBody("invalid", error), v, ka));
    }
    const std::string user = (*body)["user"];
    if (disable) {
      const Status s = dir->DisableUser(staff, user);
      if (!s.ok()) return Write(StaffReply(s, v, ka));
      return Write(JsonResponse(http::status::ok, {{"user", user}, {"disabled", true}}, v, ka));
    }
    auto reply = [self = shared_from_this(), v, ka, add](Result<OneTimePassword> r) {
      if (!r.ok()) return self->Write(StaffReply(r.status(), v, ka));
      nlohmann::json out = {{"user", r->user},
                            {"one_time_password", r->password},
                            {"expires_at", common::FormatRfc3339(common::FromUnix(r->expires_at))}};
      crypto::Wipe({reinterpret_cast<uint8_t*>(r->password.data()), r->password.size()});
      self->Write(JsonResponse(add ? http::status::created : http::status::ok, out, v, ka));
    };
    if (add) {
      // One name, one person: an id of a broker.toml token is not a second account.
      for (const auto& t : server_->options.tokens) {
        if (t.user == user) {
          return Write(JsonResponse(
              http::status::conflict,
              ErrorBody("conflict", "user '" + user + "' is an [[api_token]] of broker.toml"), v,
              ka));
        }
      }
      return dir->AddUser(staff,
                          NewAccount{user, (*body)["name"], (*body)["role"], (*body)["team"]},
                          std::move(reply));
    }
    dir->ResetUser(staff, user, std::move(reply));
  }

  // A staff directory error as a response: one generic 401 for every refused login.
  static http::response<http::string_body> StaffReply(const Status& s, unsigned v, bool ka) {
    switch (s.code()) {
      case StatusCode::kUnauthenticated:
        return JsonResponse(http::status::unauthorized, ErrorBody("refused", "login refused"), v,
                            ka);
      case StatusCode::kInvalidArgument:
        return JsonResponse(http::status::bad_request, ErrorBody("invalid", s.message()), v, ka);
      case StatusCode::kAlreadyExists:
        return JsonResponse(http::status::conflict, ErrorBody("conflict", s.message()), v, ka);
      case StatusCode::kNotFound:
        return JsonResponse(http::status::not_found, ErrorBody("not_found", "no such user"), v, ka);
      default:
        return JsonResponse(http::status::service_unavailable,
                            ErrorBody("unavailable", "cannot do that now; try again"), v, ka);
    }
  }

  // POST /api/v1/enrol and /api/v1/renew. Token and signature problems are one generic 401; the
  // reason is in the log and the audit trail (EnrolmentAuthority).
  http::response<http::string_body> HandleEnrolment(const http::request<http::string_body>& req,
                                                    unsigned v, bool ka) {
    if (server_->enrolment == nullptr || !server_->enrolment->enabled()) {
      return JsonResponse(http::status::not_found, ErrorBody("not_found", "no such resource"), v,
                          ka);
    }
    if (req.target() == "/api/v1/enrol/ca") {
      if (req.method() != http::verb::get) return MethodNotAllowed(v, ka);
      return Reply(server_->enrolment->TrustMaterial(), http::status::ok, v, ka);
    }
    if (req.method() != http::verb::post) return MethodNotAllowed(v, ka);
    auto body = schemas::ParseJson(req.body(), kBodyLimit, 4);
    if (!body.ok()) {
      return JsonResponse(http::status::bad_request, ErrorBody("bad_request", "malformed request"),
                          v, ka);
    }
    const bool enrol = req.target() == "/api/v1/enrol";
    auto r = enrol ? server_->enrolment->Enrol(*body, std::string(req[http::field::host]))
                   : server_->enrolment->Renew(*body);
    if (!r.ok() && r.status().code() == StatusCode::kUnauthenticated) {
      return JsonResponse(http::status::unauthorized,
                          ErrorBody("refused", enrol ? "enrolment refused" : "renewal refused"), v,
                          ka);
    }
    return Reply(std::move(r), http::status::ok, v, ka);
  }

  // The response for a service result: `ok_status` with the JSON, or the error mapped to its
  // HTTP status. Refusals carry the agreement's reasons; server-side failures say nothing more.
  static http::response<http::string_body> Reply(Result<nlohmann::json> r, http::status ok_status,
                                                 unsigned v, bool ka) {
    if (r.ok()) return JsonResponse(ok_status, *r, v, ka);
    switch (r.status().code()) {
      case StatusCode::kInvalidArgument:
        return JsonResponse(http::status::bad_request, ErrorBody("invalid", r.status().message()),
                            v, ka);
      case StatusCode::kPermissionDenied:
        return JsonResponse(http::status::forbidden, ErrorBody("refused", r.status().message()), v,
                            ka);
      case StatusCode::kFailedPrecondition:
        return JsonResponse(http::status::conflict, ErrorBody("conflict", r.status().message()), v,
                            ka);
      case StatusCode::kNotFound:
        return JsonResponse(http::status::not_found, ErrorBody("not_found", r.status().message()),
                            v, ka);
      case StatusCode::kResourceExhausted:
        return JsonResponse(http::status::too_many_requests,
                            ErrorBody("busy", "too many open checks; try again later"), v, ka);
      default:
        return JsonResponse(http::status::service_unavailable,
                            ErrorBody("unavailable", "cannot do that now; try again"), v, ka);
    }
  }

  static std::string_view TargetKind(std::string_view target) {
    // Logged instead of the target itself, which is the caller's to choose.
    if (target.starts_with("/api/v1/checks")) return "checks";
    if (target.starts_with("/api/v1/agencies")) return "agencies";
    if (target.starts_with("/api/v1/alerts")) return "alerts";
    if (target.starts_with("/api/v1/users")) return "users";
    if (target == "/api/v1/session" || target == "/api/v1/tokens") return "session";
    if (target.starts_with("/api/v1/enrol") || target == "/api/v1/renew") return "enrolment";
    return "other";
  }

  static http::response<http::string_body> MethodNotAllowed(unsigned v, bool ka) {
    return JsonResponse(http::status::method_not_allowed,
                        ErrorBody("method_not_allowed", "method not allowed"), v, ka);
  }

  void Write(http::response<http::string_body> res) {
    if (server_->options.metrics != nullptr) server_->options.metrics->ApiRequest(res.result_int());
    response_.emplace(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(server_->options.request_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&ApiSession::OnWrite, shared_from_this()));
  }

  // A console reply: whole, or its head and then its body in chunks as the producer gives them.
  void WriteConsole(ConsoleReply reply) {
    if (!reply.stream) return Write(std::move(reply.response));
    if (server_->options.metrics != nullptr) {
      server_->options.metrics->ApiRequest(reply.response.result_int());
    }
    stream_head_.emplace(std::move(reply.response.base()));
    stream_head_->chunked(true);
    producer_ = std::move(reply.stream);
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
    beast::get_lowest_layer(stream_).expires_after(server_->options.request_timeout);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->EndStream(false);
                               self->NextChunk();
                             });
  }

  void NextChunk() {
    auto self = shared_from_this();
    producer_([self](Result<std::optional<std::string>> chunk) {
      net::post(self->stream_.get_executor(), [self, chunk = std::move(chunk)]() mutable {
        if (!chunk.ok()) {
          // No last chunk: the client sees the body cut short, not a complete download.
          common::LogWarn("api.stream_failed", {{"error", chunk.status().message()}});
          return self->Abort();
        }
        self->WriteChunk(std::move(*chunk));
      });
    });
  }

  void WriteChunk(std::optional<std::string> chunk) {
    beast::get_lowest_layer(stream_).expires_after(server_->options.request_timeout);
    auto self = shared_from_this();
    if (!chunk) {
      return net::async_write(stream_, http::make_chunk_last(),
                              [self](beast::error_code ec, size_t) { self->EndStream(!ec); });
    }
    if (chunk->empty()) return NextChunk();
    chunk_ = std::move(*chunk);
    net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                     [self](beast::error_code ec, size_t) {
                       if (ec) return self->EndStream(false);
                       self->NextChunk();
                     });
  }

  void EndStream(bool complete) {
    const bool keep = complete && stream_head_->keep_alive();
    serializer_.reset();
    stream_head_.reset();
    producer_ = nullptr;
    chunk_.clear();
    if (!keep) return DoShutdown();
    DoRead();
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return;
    const bool keep = response_->keep_alive();
    response_.reset();
    if (!keep) return DoShutdown();
    DoRead();
  }

  void DoShutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  // The context this connection was accepted with, kept while it lives (a reload swaps the
  // server's for new connections).
  std::shared_ptr<net::ssl::context> tls_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  ApiServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  // A streamed console response (WriteConsole).
  std::optional<http::response<http::empty_body>> stream_head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::function<void(ConsoleReply::Next)> producer_;
  std::string chunk_;
  int requests_ = 0;
  const uint64_t order_;
};

// True (and logs, with the count since the last line) when a rate-limited line is due.
bool LogDue(std::chrono::steady_clock::time_point& last) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last < kSheddingLogInterval) return false;
  last = now;
  return true;
}

// Makes room for a new connection: closes the oldest pending session when there are
// max_pending of them, or when there are max_connections in all. False when the new connection
// must be refused (every slot holds a connection that has sent a complete request).
bool MakeRoom(ApiServer::Impl* impl) {
  const bool too_many_pending = static_cast<int>(impl->pending.size()) >= impl->options.max_pending;
  const bool full = impl->connections >= impl->options.max_connections;
  if (!too_many_pending && !full) return true;
  if (impl->pending.empty()) return false;
  auto* oldest = static_cast<ApiSession*>(impl->pending.begin()->second);
  oldest->LeavePending();
  oldest->Abort();
  ++impl->shed;
  if (LogDue(impl->last_shed_log)) {
    common::LogWarn("api.connections_shed", {{"shed", std::exchange(impl->shed, 0)},
                                             {"max_pending", impl->options.max_pending},
                                             {"max_connections", impl->options.max_connections}});
  }
  return true;
}

void DoAccept(ApiServer::Impl* impl, std::shared_ptr<ApiServer> keep) {
  impl->acceptor.async_accept(
      net::make_strand(impl->io), [impl, keep](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (impl->stopped || ec == net::error::operation_aborted) return;
          // Out of file descriptors (or buffers): the connection stays queued, and accepting again
          // at once would fail again at once. Wait, then carry on; sessions closing free fds.
          ++impl->accept_failures;
          if (LogDue(impl->last_accept_log)) {
            common::LogError(
                "api.accept_failed",
                {{"error", ec.message()}, {"failures", std::exchange(impl->accept_failures, 0)}});
          }
          impl->accept_retry.expires_after(kAcceptRetryDelay);
          impl->accept_retry.async_wait([impl, keep](beast::error_code tec) {
            if (!tec && !impl->stopped) DoAccept(impl, keep);
          });
          return;
        }
        if (MakeRoom(impl)) {
          std::make_shared<ApiSession>(std::move(socket), impl)->Run();
        } else {
          beast::error_code ignored;
          socket.close(ignored);
        }
        if (!impl->stopped) DoAccept(impl, keep);
      });
}

}  // namespace

Result<std::shared_ptr<ApiServer>> ApiServer::Start(net::io_context& io,
                                                    std::shared_ptr<net::ssl::context> tls,
                                                    ApiOptions options, CheckService* checks,
                                                    EnrolmentAuthority* enrolment,
                                                    StaffDirectory* staff, Console* console) {
  std::shared_ptr<ApiServer> server(new ApiServer());
  server->impl_ = std::make_unique<Impl>(io, std::move(tls), std::move(options), checks, enrolment,
                                         staff, console);
  auto& impl = *server->impl_;
  beast::error_code ec;
  const auto address = net::ip::make_address(impl.options.address, ec);
  if (ec) return InvalidArgument("bad API listen address");
  const tcp::endpoint ep(address, impl.options.port);
  impl.acceptor.open(ep.protocol(), ec);
  if (!ec) impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(ep, ec);
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen for the API: " + ec.message());
  server->port_ = impl.acceptor.local_endpoint().port();
  DoAccept(server->impl_.get(), server);
  return server;
}

ApiServer::~ApiServer() = default;

void ApiServer::SetTlsContext(std::shared_ptr<net::ssl::context> tls) {
  impl_->tls = std::move(tls);
}

void ApiServer::SetTokens(std::vector<ApiToken> tokens) {
  impl_->options.tokens = std::move(tokens);
}

void ApiServer::Stop() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_retry.cancel();
  const std::vector<void*> open(impl_->sessions.begin(), impl_->sessions.end());
  for (void* s : open) static_cast<ApiSession*>(s)->Abort();
}

}  // namespace mash::broker
