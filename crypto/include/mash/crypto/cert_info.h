// What an operator needs to know of a certificate file, read with OpenSSL: for `mash-agent
// status` and `diagnostics`. Public data only (names, dates, the public key's pin).
//
// Thread safety: free functions, safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mash/common/status.h"

typedef struct ssl_st SSL;

namespace mash::crypto {

struct CertificateInfo {
  std::string subject;  // RFC 2253 one line, e.g. "CN=police,O=MASH Exchange"
  std::string issuer;
  std::string serial;             // hex
  std::vector<std::string> sans;  // "DNS:name", "IP:addr", "URI:urn:mash:agency:police"
  std::string agency_id;          // from the SAN URI urn:mash:agency:<id>, "" when none
  int64_t not_before = 0;         // Unix seconds
  int64_t not_after = 0;
  std::string spki_pin;  // "sha256:<hex>" of the SubjectPublicKeyInfo
};

// Why the peer's certificate did not verify on a finished (or failed) handshake, for operators
// (`mash-agent test-connection`): OpenSSL's verify result, sorted into what to look at.
enum class PeerVerifyProblem {
  kNone,         // verified (or no verification happened yet)
  kPin,          // the chain does not contain the pinned CA key (tls.ca_pin)
  kName,         // the certificate does not name the host dialled
  kExpired,      // a certificate of the chain expired
  kNotYetValid,  // a certificate of the chain is not valid yet (clock?)
  kCrl,          // a CRL is missing, expired or not yet valid
  kRevoked,      // a certificate of the chain is revoked
  kUntrusted,    // the chain does not lead to the configured CA
  kOther,
};
struct PeerVerifyOutcome {
  PeerVerifyProblem problem = PeerVerifyProblem::kNone;
  std::string text;  // OpenSSL's description, "" when none
};
PeerVerifyOutcome PeerVerifyResultOf(SSL* ssl);

// "OpenSSL 3.0.x ..." of the library linked.
std::string TlsLibraryVersion();

// The first certificate of a PEM file (the leaf of a chain file). Errors: NotFound,
// InvalidArgument (no PEM certificate, malformed dates).
Result<CertificateInfo> DescribeCertificate(const std::filesystem::path& pem);

}  // namespace mash::crypto
