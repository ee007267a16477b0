// The one place TLS is configured (DESIGN §6). Both the broker and the agent, and every test,
// build their contexts here:
//   TLS 1.3 only; suites TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256,
//   TLS_CHACHA20_POLY1305_SHA256; groups X25519, P-256, P-384; security level 3;
//   no session tickets, no session cache, no resumption, no 0-RTT, no compression,
//   no renegotiation; peer verification against the hub CA with CRL checks on the whole chain
//   (a missing or expired CRL fails the handshake: fail closed).
//
// Thread safety: a built context is read-only and may be shared by sessions on any thread.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/common/config.h"
#include "mash/common/status.h"

namespace mash::crypto {

enum class TlsRole { kServer, kClient };

struct TlsOptions {
  TlsRole role = TlsRole::kServer;
  std::filesystem::path ca_file;                 // trusted roots (the hub root CA)
  std::vector<std::filesystem::path> crl_files;  // CRLs for every CA in the chain (required)
  std::filesystem::path cert_chain_file;         // own leaf + issuing CA, PEM
  std::filesystem::path key_file;                // own private key, PEM; refused if mode & 077
  // Server: require and verify a client certificate (agent hub: true; staff API: false).
  bool require_client_cert = true;
  // Client: "sha256:<hex>" of the SubjectPublicKeyInfo of a CA in the verified chain; the
  // handshake fails unless some certificate in the chain matches.
  std::optional<std::string> ca_pin;
  // Client: the EKU the peer must carry is serverAuth; server: clientAuth (when verifying).
};

// Builds a context. Errors: NotFound for missing files, FailedPrecondition for a key file with
// loose permissions, InvalidArgument for unparsable PEM or a key that does not match the
// certificate, Internal for OpenSSL failures (with its error string).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsOptions& options);

// Reads the [tls] table of a daemon's config: ca, crls (the CRL of every CA in the chain), cert,
// key, and for clients ca_pin ("sha256:<64 hex>"). Problems are recorded in `r` with their
// positions. Servers get require_client_cert = true.
TlsOptions ReadTlsOptions(common::ConfigReader& r, TlsRole role);

// Client side, per connection: require the server certificate to name `host` (SAN DNS or IP).
Status SetExpectedPeerName(SSL* ssl, const std::string& host);

// The agency id from a verified peer certificate's SAN URI "urn:mash:agency:<id>".
// PermissionDenied when the handshake did not verify a certificate, when there is no such URI,
// or when there is more than one.
Result<std::string> PeerAgencyId(SSL* ssl);

// "sha256:<hex>" of the SubjectPublicKeyInfo of the first certificate in a PEM file (the pin
// `mashctl agency add` prints and `./mash demo` passes to the agents).
Result<std::string> SpkiPinOfPemFile(const std::filesystem::path& pem);

// Seconds until the own certificate in `cert_chain_file` expires (negative when expired).
Result<int64_t> SecondsUntilExpiry(const std::filesystem::path& cert_chain_file, int64_t now);

}  // namespace mash::crypto
