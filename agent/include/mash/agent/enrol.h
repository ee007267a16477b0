// Enrolment and certificate renewal of an agent (DESIGN §6; docs/agent.md "Enrolling" and
// "Certificate renewal"; the endpoints are in docs/protocol.md).
//
// Enrol (`mash-agent enrol`):
//   1. GET /api/v1/enrol/ca from the broker over TLS 1.3 *without* trusting anything yet, and
//      check the root CA it returns against the CA pin the operator was given (sha256 of its
//      SubjectPublicKeyInfo, compared in constant time). A mismatch stops here: nothing secret
//      has been sent.
//   2. From now on every connection verifies the broker normally: its chain to that root, the
//      CRLs, and the host name of the URL.
//   3. Make the keys locally, in DIR, mode 0600: the TLS key (ECDSA P-256, agency-tls.key), the
//      Ed25519 signing key and X25519 encryption key (agency.sign.key, agency.enc.key, with their
//      .pub files) and the database key (agent.db.key).
//   4. POST /api/v1/enrol with the token, a PKCS#10 request and the two public keys.
//   5. Store the certificate chain (agency.pem), the hub CA and CRLs (hub-ca.pem,
//      hub-crl-<n>.pem), the broker's keys and the audit checkpoint key (hub.sign.pub,
//      hub.enc.pub, hub.audit.pub), and write DIR/agent.toml with everything but [records] and
//      [policy] (agent.toml.enrolled when agent.toml exists already).
//   6. Delete the token file. On any failure the token file stays and the keys made in step 3
//      are removed, so the command can simply be run again (with a new token if the broker
//      consumed it).
//
// Renew (`mash-agent renew`, and the running agent at start and daily): when less than the renew
// window is left of the certificate (or on demand), make a new TLS key and request, sign
// crypto::RenewalMessage with the registered Ed25519 key, POST /api/v1/renew, and replace the
// key and the certificate (each written to a temporary file, checked as a pair, then renamed),
// plus the CRL files with the broker's current ones. The channel uses them from its next
// connection.
//
// Thread safety: blocking functions (each network step has a deadline); call them from one
// thread. The renewer runs on the agent's io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "mash/agent/config.h"
#include "mash/common/clock.h"
#include "mash/common/status.h"

namespace mash::agent {

struct EnrolOptions {
  std::string broker;                // https://HOST:PORT of the broker's API
  std::filesystem::path token_file;  // the one-time token (mode 0600), deleted on success
  std::string ca_pin;                // sha256:<64 hex> of the hub root CA's public key
  std::filesystem::path dir;         // where keys, certificates and agent.toml go (made 0700)
  std::string agency_id;             // optional: refuse a token issued for another agency
  std::chrono::seconds timeout{10};  // each network step
};

struct EnrolResult {
  std::string agency;
  std::filesystem::path config;  // agent.toml (or agent.toml.enrolled)
  int64_t not_after = 0;
};

// Errors: InvalidArgument (bad options), PermissionDenied (the hub CA does not match the pin; the
// token was not sent), Unauthenticated (the broker refused the token), AlreadyExists (DIR already
// holds an enrolment), Unavailable / DeadlineExceeded (network), and file errors.
Result<EnrolResult> Enrol(const EnrolOptions& options, const common::Clock& clock);

struct RenewResult {
  bool renewed = false;
  int64_t not_after = 0;  // of the certificate now in use
};

// Renews the certificate of `config` when `force` or when less than the renew window is left.
// Errors: FailedPrecondition (no [enrolment] broker in agent.toml), Unauthenticated (refused by
// the broker), Unavailable / DeadlineExceeded, file and key errors. On error the old key and
// certificate stay in place.
Result<RenewResult> RenewCertificate(const AgentConfig& config, const common::Clock& clock,
                                     bool force,
                                     std::chrono::seconds timeout = std::chrono::seconds(10));

// Checks at start and then every `interval` whether the certificate is due, renews it, and then
// calls `renewed` (e.g. to give the channel a new TLS context). Does nothing when the config has
// no [enrolment] broker. Runs on `io`'s thread; Stop() before io.run() returns.
class CertificateRenewer : public std::enable_shared_from_this<CertificateRenewer> {
 public:
  CertificateRenewer(boost::asio::io_context& io, AgentConfig config, const common::Clock& clock,
                     std::function<void()> renewed,
                     std::chrono::milliseconds interval = std::chrono::hours(24));
  void Start();
  void Stop();

 private:
  void Check();
  void Schedule(std::chrono::milliseconds after);
  boost::asio::steady_timer timer_;
  AgentConfig config_;
  const common::Clock& clock_;
  std::function<void()> renewed_;
  std::chrono::milliseconds interval_;
  bool stopped_ = false;
};

}  // namespace mash::agent
