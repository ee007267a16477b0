// X.509 for enrolment (DESIGN §6): an agent makes its TLS key and a PKCS#10 request locally; the
// broker's online issuing CA turns a request into a client certificate. Everything goes through
// OpenSSL's X509 / X509_REQ / X509V3 APIs; no DER is written by hand.
//
// The certificate an agency gets is fixed by the broker, whatever the request asks for: the
// request's subject and extensions are ignored; only its public key (ECDSA P-256 or P-384, after
// its self-signature verified) is used. The leaf holds subject CN=<agency id>, a random 128-bit
// serial, CA:FALSE (critical), keyUsage digitalSignature (critical), extendedKeyUsage clientAuth,
// subjectAltName URI urn:mash:agency:<id>, subject and authority key identifiers, and is signed
// with SHA-256.
//
// Thread safety: free functions and an immutable IssuingCa; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "mash/common/status.h"
#include "mash/crypto/secure_memory.h"

namespace mash::crypto {

// A new ECDSA P-256 key and a certificate request signed with it.
struct KeyAndRequest {
  SecureBuffer key_pem;     // PKCS#8 PEM of the private key; write it 0600
  std::string request_pem;  // PKCS#10 PEM, subject CN=<common_name>
};

// Makes a fresh key and request. Errors: Internal (OpenSSL).
Result<KeyAndRequest> MakeKeyAndRequest(const std::string& common_name);

// What IssueAgencyCertificate made.
struct IssuedCertificate {
  std::string chain_pem;    // the leaf, then the issuing CA certificate
  std::string serial_hex;   // lower-case hex
  std::string fingerprint;  // "sha256:<hex>" of the leaf's DER
  int64_t not_before = 0;   // Unix seconds
  int64_t not_after = 0;
};

// The online issuing CA: its certificate and private key (a PEM file refused when group- or
// world-accessible).
class IssuingCa {
 public:
  // Errors: NotFound, FailedPrecondition (loose key file), InvalidArgument (unparsable PEM, a
  // certificate that is not a CA, or a key that does not match it).
  static Result<std::unique_ptr<IssuingCa>> Load(const std::filesystem::path& cert_file,
                                                 const std::filesystem::path& key_file);
  ~IssuingCa();

  // Issues a client certificate for `agency_id` (^[a-z][a-z0-9-]{1,31}$) to the public key of
  // `request_pem`, valid from `now` - 5 minutes (clock skew) to `now` + `lifetime` (at most 90
  // days, and never past the CA's own notAfter). Errors: InvalidArgument when the request does
  // not parse, its self-signature does not verify, its key is not ECDSA P-256/P-384, the id is
  // malformed or the lifetime is out of range; Internal (OpenSSL).
  Result<IssuedCertificate> IssueAgencyCertificate(const std::string& request_pem,
                                                   const std::string& agency_id, int64_t now,
                                                   std::chrono::seconds lifetime) const;

  struct Impl;

 private:
  IssuingCa() = default;
  std::unique_ptr<Impl> impl_;
};

// Longest lifetime of a leaf the broker issues (DESIGN §6).
inline constexpr std::chrono::seconds kMaxLeafLifetime = std::chrono::hours(24 * 90);

// The validity of the first certificate in a PEM text, in Unix seconds.
struct Validity {
  int64_t not_before = 0;
  int64_t not_after = 0;
};
// Errors: InvalidArgument when there is no parsable certificate.
Result<Validity> CertificateValidity(const std::string& pem);

// "sha256:<hex>" of the SubjectPublicKeyInfo of the first certificate in a PEM text (the same pin
// as SpkiPinOfPemFile). Errors: InvalidArgument.
Result<std::string> SpkiPinOfPem(const std::string& pem);

// The message an enrolled agent signs with its registered Ed25519 key to renew its certificate
// (docs/protocol.md "Renewal"): "mash-renew-v1\n<agency>\n<timestamp>\n<hex SHA-256 of the
// request PEM>".
std::string RenewalMessage(const std::string& agency, int64_t timestamp,
                           const std::string& request_pem);

}  // namespace mash::crypto
