// The broker's HTTPS JSON API (TLS 1.3, server authentication). Staff authenticate with a bearer
// token: first one whose SHA-256 is in broker.toml [[api_token]] (bootstrap and service accounts,
// e.g. the first admin), then a session or personal token of the staff directory
// (staff_directory.h). Versioned under /api/v1:
//
//   POST /api/v1/checks        raise a check (schemas/api/check-request.schema.json) -> 201
//   GET  /api/v1/checks/{id}   the check with each agency's part and answer          -> 200
//   POST /api/v1/checks/{id}/authorisation  a manager authorises or rejects an override:
//        {"decision": "authorise"|"reject", "reason": "..."}                      -> 200
//   GET  /api/v1/checks[?state=open|overdue|awaiting_authorisation|closed]  the checks of the
//        caller's team, newest first, as summaries with their deadlines and breaches -> 200
//   POST /api/v1/checks/{id}/decision  the MASH decision, which closes the check:
//        {"outcome": "...", "rationale": "..."}                                   -> 200
//   GET  /api/v1/alerts[?status=...&kind=...|?all=true]  (IG officer, DPO) the IG alert queue
//        (overrides, out-of-hours use, unusual volumes), newest first; by default every alert
//        not closed                                                                -> 200
//   GET  /api/v1/alerts/{id}  (IG officer, DPO) one alert with its history          -> 200
//   POST /api/v1/alerts/{id}/status  {"status": "under_review"|"escalated"|"closed",
//        "note": "..."}  moves an alert on (alerts.h): 400 without a needed note, 409 for a
//        change its status does not allow                                          -> 200
//   POST /api/v1/alerts/{id}/acknowledgement  {"note": "..."}  closes it (older clients; {id}
//        may also be the id of the check whose override raised it)                 -> 200
// The whole API is described by schemas/api/openapi.json.
//
// Whatever must be audited (raising, viewing, deciding, refusals) is answered only once its
// audit event has committed; 503 when the log cannot record it. A refusal by the sharing
// agreement is 403 with the agreement's reasons; a decision on a check that does not await one
// is 409.
//   GET  /api/v1/agencies      registered agencies and whether each is online        -> 200
//   POST /api/v1/agencies      (role admin) a new agency to enrol: {"id","name","type"} -> 201
//        with its one-time enrolment token and the CA pin; 409 when the id is taken
//   GET  /api/v1/enrol/ca      (no authentication) the hub root CA and CRLs; the agent checks
//        the CA against its pin before it trusts or sends anything               -> 200
//   POST /api/v1/enrol         (no bearer token: the one-time token is in the body) an agent
//        enrols: token, CSR and public keys -> 200 with its certificate (enrolment.h)
//   POST /api/v1/renew         (no bearer token: signed with the agency's registered key) an
//        agent renews its certificate -> 200
//   Both answer 401 {"error": {"code": "refused"}} for any token or signature problem.
//
//
// Staff accounts (StaffDirectory; absent: 404):
//   POST   /api/v1/session  (no bearer) {"user","password"} -> 201 {"token","expires_at","user",
//          "role","team"}: a session (8 h, 30 min idle by default)
//   DELETE /api/v1/session  (bearer: the session) ends it                           -> 204
//   POST   /api/v1/tokens   (no bearer) {"user","password","new_password"?,"days"?,"label"?}
//          -> 201 {"token","expires_at"}: a personal API token for mashctl. With a one-time
//          password, "new_password" is required and becomes the password.
//   Both answer 401 {"error": {"code": "refused"}} for any unknown user, wrong, expired or
//   one-time password (at /session), lock or disabled account; 503 when password checks are
//   saturated.
//   GET    /api/v1/users          (role admin) every account, without hashes        -> 200
//   POST   /api/v1/users          (role admin) {"user","name","role","team"} -> 201 {"user",
//          "one_time_password","expires_at"}; 409 when the id is taken
//   POST   /api/v1/users/disable  (role admin) {"user"} -> 200; revokes sessions and tokens
//   POST   /api/v1/users/reset    (role admin) {"user"} -> 200 {"user","one_time_password",
//          "expires_at"}; clears a lock, revokes sessions and tokens
//   Other roles get 403 and a request_refused audit event.
//
// Errors are {"error": {"code": "...", "message": "..."}}; 401 never says why. Requests are
// limited (8 KiB of headers, 64 KiB of body) and every read and write has a deadline.
// Identifiers are never put in URLs: checks are named by random ids.
//
// Every other path (not under /api/) belongs to the web console (console.h) when it is enabled,
// and is 404 otherwise.
//
// Thread safety: runs on the broker's io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "mash/broker/checks.h"
#include "mash/broker/config.h"
#include "mash/broker/console.h"
#include "mash/broker/enrolment.h"
#include "mash/broker/staff_directory.h"

namespace mash::broker {

class BrokerMetrics;

struct ApiOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::vector<ApiToken> tokens;
  // The TLS handshake, and then each request, must arrive within this; so must each response
  // be written. An idle keep-alive connection is closed after it.
  std::chrono::milliseconds request_timeout{10000};
  int max_connections = 256;  // connections in total
  // Connections that have not yet sent a complete request (TLS handshake or headers under way).
  // A new connection beyond this, or beyond max_connections, closes the oldest of them instead
  // of being refused: a peer that opens connections and sends nothing cannot lock staff out, it
  // only loses its own oldest connections.
  int max_pending = 64;
  // Counts each response by status class (ops metrics); null: none. Must outlive the server.
  BrokerMetrics* metrics = nullptr;
};

class ApiServer : public std::enable_shared_from_this<ApiServer> {
 public:
  static Result<std::shared_ptr<ApiServer>> Start(boost::asio::io_context& io,
                                                  std::shared_ptr<boost::asio::ssl::context> tls,
                                                  ApiOptions options, CheckService* checks,
                                                  EnrolmentAuthority* enrolment = nullptr,
                                                  StaffDirectory* staff = nullptr,
                                                  Console* console = nullptr);
  ~ApiServer();
  uint16_t port() const { return port_; }
  void Stop();
  // The TLS context for connections accepted from now on; open ones keep theirs (SIGHUP).
  void SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls);
  // The broker.toml bearer tokens from now on (SIGHUP).
  void SetTokens(std::vector<ApiToken> tokens);

  // Exposed for the session type in api_server.cc.
  struct Impl;

 private:
  ApiServer() = default;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace mash::broker
