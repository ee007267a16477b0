// Agent enrolment and certificate renewal (DESIGN §§2, 3, 6; docs/protocol.md "Enrolment").
//
// Enrolled agencies live in the broker's SQLCipher database (table enrolled_agency: id, name,
// type, Ed25519 and X25519 public keys, certificate serial, fingerprint and expiry, enrolled_at)
// and are registered with the Courier at start-up, beside the [[agency]] entries of broker.toml;
// the agent hub then accepts them exactly as it accepts those (certificate SAN URI
// urn:mash:agency:<id> AND the registered keys). An id in both is a configuration error.
//
//   AddAgency  an admin names an agency; a one-time token (256 random bits, hex) is returned
//              once and only its SHA-256 is stored, with its expiry (enrolment_token).
//   TrustMaterial  (GET /api/v1/enrol/ca) the root CA and CRLs, which the agent checks against
//              its CA pin before it sends anything.
//   Enrol      token + PKCS#10 request + public keys: the token is compared in constant time
//              with every stored hash; an unknown, used or expired token is one generic refusal.
//              The certificate is issued by the online issuing CA (crypto/certificates.h: fixed
//              profile, request contents ignored but its self-signature checked), and the token
//              is marked used in the same transaction that registers the agency, so a token works
//              once even under concurrent requests.
//   Renew      agency + new request + timestamp, signed with the agency's registered Ed25519 key
//              over "mash-renew-v1\n<agency>\n<timestamp>\n<hex SHA-256 of the request PEM>"; the
//              timestamp must be within 5 minutes of the broker's clock and newer than the last
//              renewal of that agency (no replay).
//
// Refusals face the peer as one generic error; the reason goes to the log and, as a
// request_refused event, to the audit trail (without the token): at most one such row per
// second, which counts the refusals it stands for, since the peers are not authenticated yet. Token
// issue, enrolment and renewal are key_changed events.
//
// Thread safety: none; used on the broker's io thread only (which also serialises requests).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mash/audit/log.h"
#include "mash/broker/config.h"
#include "mash/broker/courier.h"
#include "mash/broker/refusal_throttle.h"
#include "mash/common/clock.h"
#include "mash/crypto/certificates.h"
#include "mash/storage/database.h"

namespace mash::broker {

// Request limits of the enrolment endpoints.
inline constexpr size_t kMaxRequestPemBytes = 16 * 1024;
inline constexpr int64_t kRenewMaxSkewSeconds = 300;

class EnrolmentAuthority {
 public:
  // Opens the enrolment tables in config.database, loads the enrolled agencies and registers them
  // with `courier`. Errors: InvalidArgument when an enrolled id is also an [[agency]] of
  // broker.toml; the errors of IssuingCa::Load when [enrolment] is set; storage errors.
  static Result<std::unique_ptr<EnrolmentAuthority>> Create(
      const BrokerConfig& config, Courier* courier, audit::AuditLog* audit,
      const crypto::SigningPublicKey& audit_key, const common::Clock& clock,
      common::RandomSource& random);
  ~EnrolmentAuthority();

  // true when [enrolment] is configured (tokens can be made and used).
  bool enabled() const { return ca_ != nullptr; }
  size_t enrolled_count() const { return enrolled_; }
  // The agent port the WebSocket URL names, once the hub is bound.
  void set_agent_port(uint16_t port) { agent_port_ = port; }

  // Makes a one-time token for a new agency. Returns {"agency", "token", "expires_at",
  // "ca_pin"}; an unused token made earlier for the same id stops working. Errors:
  // FailedPrecondition (enrolment not configured), InvalidArgument (bad id, name or type),
  // AlreadyExists (the id is registered, in broker.toml or enrolled), storage errors.
  Result<nlohmann::json> AddAgency(const nlohmann::json& body, const std::string& admin);

  // The enrolment itself (body as in docs/protocol.md); `host` is the request's Host header.
  // Returns the enrolment response. Errors: Unauthenticated (token unknown, used or expired:
  // one generic refusal), InvalidArgument (malformed body or request), FailedPrecondition
  // (enrolment not configured), storage errors.
  Result<nlohmann::json> Enrol(const nlohmann::json& body, const std::string& host);

  // Renewal (body as in docs/protocol.md). Errors: Unauthenticated (unknown agency, bad
  // signature, stale or replayed timestamp), InvalidArgument, FailedPrecondition, storage errors.
  Result<nlohmann::json> Renew(const nlohmann::json& body);

  // {"ca_certificate": PEM, "crls": [PEM...]}: the hub root CA and the current CRLs, read from
  // the [tls] files now (GET /api/v1/enrol/ca, before the agent trusts anything: it checks the CA
  // against its pin). Errors: Unavailable, InvalidArgument.
  Result<nlohmann::json> TrustMaterial() const;

 private:
  EnrolmentAuthority(const BrokerConfig& config, Courier* courier, audit::AuditLog* audit,
                     const common::Clock& clock, common::RandomSource& random)
      : config_(config), courier_(courier), audit_(audit), clock_(clock), random_(random) {}
  Status LoadEnrolled();
  void Refuse(const std::string& what, const std::string& why, const std::string& agency);
  void Record(const std::string& agency, const std::string& person, const std::string& detail);
  std::string AgentUrl(const std::string& host) const;

  BrokerConfig config_;
  Courier* courier_;
  audit::AuditLog* audit_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<crypto::IssuingCa> ca_;
  std::string ca_pin_;
  std::string audit_key_b64_;
  std::string sign_key_b64_;
  std::string enc_key_b64_;
  uint16_t agent_port_ = 0;
  size_t enrolled_ = 0;
  RefusalThrottle refusals_;  // request_refused rows: at most one a second
};

}  // namespace mash::broker
