// TLS contexts for the broker, the agent and the tests (DESIGN §6). Only OpenSSL and common.
//
// Decisions worth knowing:
// - Peer verification runs with X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
//   X509_V_FLAG_X509_STRICT, so every certificate of the chain (trust anchor included) needs a
//   current CRL from its issuer: a CRL that is missing from `crl_files`, or whose nextUpdate has
//   passed, fails the handshake. A CRL *file* that does not exist fails earlier: MakeTlsContext
//   returns NotFound, so a misconfigured process does not start at all.
// - The CA pin is enforced in the verify callback installed on the SSL_CTX. OpenSSL calls it
//   once per certificate, from the trust anchor down to the leaf; the leaf (depth 0) comes last,
//   when the whole chain has been built and every other check has passed. At that call the
//   callback hashes the SubjectPublicKeyInfo of every certificate in the verified chain and fails
//   verification (X509_V_ERR_APPLICATION_VERIFICATION) unless one matches the pin. No
//   per-connection state is needed. Sessions must not replace this callback
//   (ssl::stream::set_verify_callback would drop the pin check).
// - A client may have no certificate of its own (both cert_chain_file and key_file empty), for
//   staff tools that talk to the HTTPS API; agents always have one. A server always has one.
// - Resumption is impossible by construction: no tickets (SSL_OP_NO_TICKET and zero TLS 1.3
//   tickets), no session cache on either side, no early data. Every connection therefore runs a
//   full handshake with a fresh client certificate check against the current CRLs.
#include "mash/crypto/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <regex>
#include <string_view>
#include <system_error>

#include "openssl_errors.h"

namespace mash::crypto {
namespace {

// DESIGN §6, in one place.
constexpr char kCipherSuites[] =
    "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kGroups[] = "X25519:P-256:P-384";
constexpr int kSecurityLevel = 3;
constexpr int kMaxVerifyDepth = 4;  // leaf, issuing CA, root (+1 spare)
constexpr unsigned long kVerifyFlags =
    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT;

constexpr std::string_view kPinPrefix = "sha256:";
constexpr std::string_view kAgencyUriPrefix = "urn:mash:agency:";
constexpr size_t kMaxAgencyIdLength = 32;
constexpr off_t kMaxKeyFileBytes = 64 * 1024;

using Sha256 = std::array<unsigned char, 32>;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};

using internal::OpenSslErrors;
using internal::OpenSslInternal;

Status RequireFile(const std::filesystem::path& path, const char* what) {
  if (path.empty()) return InvalidArgument(std::string(what) + " not configured");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound(std::string(what) + " not found: " + path.string());
  }
  return Status::Ok();
}

// Never prompts for a passphrase: an encrypted key is simply unparsable here.
int NoPassphrase(char*, int, int, void*) { return 0; }

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Sha256> ParsePin(const std::string& pin) {
  if (pin.size() != kPinPrefix.size() + 64 || pin.compare(0, kPinPrefix.size(), kPinPrefix) != 0) {
    return InvalidArgument("ca_pin must be \"sha256:\" followed by 64 hex digits");
  }
  Sha256 out{};
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(pin[kPinPrefix.size() + 2 * i]);
    int lo = HexValue(pin[kPinPrefix.size() + 2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("ca_pin holds a non-hex digit");
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

// SHA-256 of the DER SubjectPublicKeyInfo of `cert`.
bool SpkiSha256(X509* cert, Sha256* out) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return false;
  unsigned int md_len = 0;
  bool ok =
      EVP_Digest(der, static_cast<size_t>(len), out->data(), &md_len, EVP_sha256(), nullptr) == 1 &&
      md_len == out->size();
  OPENSSL_free(der);
  return ok;
}

void FreePin(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<Sha256*>(ptr);
}

// The SSL_CTX ex_data slot holding the pin (Sha256*, owned by the SSL_CTX). Index 0 ("app
// data") belongs to Boost.Asio, which keeps its verify callback there.
int PinIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreePin);
  return index;
}

int VerifyCallback(int preverify_ok, X509_STORE_CTX* store_ctx) {
  if (preverify_ok != 1) return 0;  // never override an OpenSSL verdict
  if (X509_STORE_CTX_get_error_depth(store_ctx) != 0) return 1;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  const auto* pin =
      static_cast<const Sha256*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PinIndex()));
  if (pin == nullptr) return 1;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store_ctx);
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    Sha256 digest{};
    if (SpkiSha256(sk_X509_value(chain, i), &digest) &&
        CRYPTO_memcmp(digest.data(), pin->data(), digest.size()) == 0) {
      return 1;
    }
  }
  X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

// Reads a private key, refusing a file that group or others may read (checked on the open
// descriptor, so the file checked is the file read).
Result<std::unique_ptr<EVP_PKEY, PkeyFree>> LoadPrivateKey(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFound("key file not found: " + path.string());
    return InvalidArgument("cannot open key file " + path.string() + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("key file is not a regular file: " + path.string());
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return FailedPrecondition("key file is readable by group or others (want 0600): " +
                              path.string());
  }
  if (st.st_size <= 0 || st.st_size > kMaxKeyFileBytes) {
    ::close(fd);
    return InvalidArgument("key file has an implausible size: " + path.string());
  }
  std::string pem(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < pem.size()) {
    ssize_t n = ::read(fd, pem.data() + got, pem.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (got == pem.size()) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) {
    return InvalidArgument("cannot parse key file " + path.string() + ": " + OpenSslErrors());
  }
  return key;
}

Result<std::unique_ptr<X509, X509Free>> LoadFirstCertificate(const std::filesystem::path& path) {
  MASH_RETURN_IF_ERROR(RequireFile(path, "certificate file"));
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return InvalidArgument("cannot open " + path.string() + ": " + OpenSslErrors());
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert)
    return InvalidArgument("no PEM certificate in " + path.string() + ": " + OpenSslErrors());
  return cert;
}

Status ApplyProtocolSettings(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return OpenSslInternal("cannot restrict to TLS 1.3");
  }
  if (SSL_CTX_set_ciphersuites(ctx, kCipherSuites) != 1) {
    return OpenSslInternal("cannot set TLS 1.3 cipher suites");
  }
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) return OpenSslInternal("cannot set groups");
  // Before any certificate is loaded, so that a weak own certificate is refused at load time.
  SSL_CTX_set_security_level(ctx, kSecurityLevel);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_num_tickets(ctx, 0) != 1) return OpenSslInternal("cannot disable tickets");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Unused while resumption is off; set so that OpenSSL would bind any session to this
  // configuration rather than fail with "session id context uninitialized".
  static constexpr unsigned char kSessionIdContext[] = "mash-tls-v1";
  if (SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1) != 1) {
    return OpenSslInternal("cannot set the session id context");
  }
  if (SSL_CTX_set_max_early_data(ctx, 0) != 1 || SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) {
    return OpenSslInternal("cannot disable early data");
  }
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  return Status::Ok();
}

Status LoadTrust(SSL_CTX* ctx, const TlsOptions& options) {
  MASH_RETURN_IF_ERROR(RequireFile(options.ca_file, "CA file"));
  if (options.crl_files.empty()) {
    return InvalidArgument("no CRL files configured (CRL checks are mandatory)");
  }
  for (const auto& crl : options.crl_files) MASH_RETURN_IF_ERROR(RequireFile(crl, "CRL file"));

  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (X509_STORE_load_file(store, options.ca_file.c_str()) != 1) {
    return InvalidArgument("cannot load CA file " + options.ca_file.string() + ": " +
                           OpenSslErrors());
  }
  X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
  if (lookup == nullptr) return OpenSslInternal("cannot add a file lookup");
  for (const auto& crl : options.crl_files) {
    if (X509_load_crl_file(lookup, crl.c_str(), X509_FILETYPE_PEM) <= 0) {
      return InvalidArgument("cannot load CRL file " + crl.string() + ": " + OpenSslErrors());
    }
  }

  // The flags go on both the store and the context's parameters; libssl merges them into the
  // parameters of each verification.
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  const int purpose =
      options.role == TlsRole::kServer ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER;
  if (X509_STORE_set_flags(store, kVerifyFlags) != 1 ||
      X509_VERIFY_PARAM_set_flags(param, kVerifyFlags) != 1 ||
      X509_VERIFY_PARAM_set_purpose(param, purpose) != 1) {
    return OpenSslInternal("cannot set verification parameters");
  }
  X509_VERIFY_PARAM_set_depth(param, kMaxVerifyDepth);

  if (options.ca_pin.has_value()) {
    MASH_ASSIGN_OR_RETURN(Sha256 pin, ParsePin(*options.ca_pin));
    auto* owned = new Sha256(pin);
    if (SSL_CTX_set_ex_data(ctx, PinIndex(), owned) != 1) {
      delete owned;
      return OpenSslInternal("cannot attach the CA pin");
    }
  }

  int mode = SSL_VERIFY_PEER;
  if (options.role == TlsRole::kServer) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, VerifyCallback);
  return Status::Ok();
}

Status LoadOwnIdentity(SSL_CTX* ctx, const TlsOptions& options) {
  MASH_RETURN_IF_ERROR(RequireFile(options.cert_chain_file, "certificate chain file"));
  if (options.key_file.empty()) return InvalidArgument("key file not configured");
  // The key first: a loose key file must be reported as such even if the chain is also bad.
  MASH_ASSIGN_OR_RETURN(auto key, LoadPrivateKey(options.key_file));
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_chain_file.c_str()) != 1) {
    return InvalidArgument("cannot load certificate chain " + options.cert_chain_file.string() +
                           ": " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return InvalidArgument("key " + options.key_file.string() +
                           " refused for certificate: " + OpenSslErrors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument("key " + options.key_file.string() + " does not match certificate " +
                           options.cert_chain_file.string() + ": " + OpenSslErrors());
  }
  return Status::Ok();
}

Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContextImpl(const TlsOptions& options) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(
      SSL_CTX_new(options.role == TlsRole::kServer ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return OpenSslInternal("SSL_CTX_new failed");
  MASH_RETURN_IF_ERROR(ApplyProtocolSettings(ctx.get()));

  const bool verify_peer = options.role == TlsRole::kClient || options.require_client_cert;
  if (verify_peer) {
    MASH_RETURN_IF_ERROR(LoadTrust(ctx.get(), options));
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }

  const bool has_identity = !options.cert_chain_file.empty() || !options.key_file.empty();
  if (options.role == TlsRole::kServer || has_identity) {
    MASH_RETURN_IF_ERROR(LoadOwnIdentity(ctx.get(), options));
  }

  // Boost takes ownership of the SSL_CTX; release ours only once the wrapper exists.
  auto wrapped = std::make_shared<boost::asio::ssl::context>(ctx.get());
  ctx.release();
  return wrapped;
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsOptions& options) {
  ERR_clear_error();
  Result<std::shared_ptr<boost::asio::ssl::context>> result = MakeTlsContextImpl(options);
  ERR_clear_error();
  return result;
}

Status SetExpectedPeerName(SSL* ssl, const std::string& host) {
  if (ssl == nullptr) return InvalidArgument("no SSL object");
  if (host.empty() || host.find('\0') != std::string::npos) {
    return InvalidArgument("expected peer name is empty or malformed");
  }
  unsigned char ip[16];
  if (inet_pton(AF_INET, host.c_str(), ip) == 1 || inet_pton(AF_INET6, host.c_str(), ip) == 1) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return OpenSslInternal("cannot set expected peer IP");
    }
    return Status::Ok();
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return InvalidArgument("cannot set expected peer name: " + OpenSslErrors());
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return InvalidArgument("cannot set SNI: " + OpenSslErrors());
  }
  return Status::Ok();
}

Result<std::string> PeerAgencyId(SSL* ssl) {
  if (ssl == nullptr) return PermissionDenied("no TLS session");
  if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) {
    return PermissionDenied("peer certificates are not verified on this connection");
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return PermissionDenied("peer presented no certificate");
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return PermissionDenied("peer certificate did not verify");
  }
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return PermissionDenied("peer certificate has no subjectAltName");
  std::optional<std::string> id;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                          static_cast<size_t>(ASN1_STRING_length(uri)));
    if (text.substr(0, kAgencyUriPrefix.size()) != kAgencyUriPrefix) continue;
    if (id.has_value()) return PermissionDenied("peer certificate names more than one agency");
    id = std::string(text.substr(kAgencyUriPrefix.size()));
  }
  if (!id.has_value()) return PermissionDenied("peer certificate names no agency");
  // ^[a-z][a-z0-9-]{1,31}$, the same rule as the PKI script.
  bool valid =
      id->size() >= 2 && id->size() <= kMaxAgencyIdLength && (*id)[0] >= 'a' && (*id)[0] <= 'z';
  for (char c : *id) {
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!valid) return PermissionDenied("peer certificate names a malformed agency id");
  return *std::move(id);
}

Result<std::string> SpkiPinOfPemFile(const std::filesystem::path& pem) {
  ERR_clear_error();
  MASH_ASSIGN_OR_RETURN(auto cert, LoadFirstCertificate(pem));
  Sha256 digest{};
  if (!SpkiSha256(cert.get(), &digest)) return OpenSslInternal("cannot hash the public key");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kPinPrefix);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

Result<int64_t> SecondsUntilExpiry(const std::filesystem::path& cert_chain_file, int64_t now) {
  ERR_clear_error();
  MASH_ASSIGN_OR_RETURN(auto cert, LoadFirstCertificate(cert_chain_file));
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return InvalidArgument("certificate has a malformed notAfter: " + OpenSslErrors());
  }
  const time_t not_after = timegm(&tm);
  if (not_after == static_cast<time_t>(-1)) return InvalidArgument("notAfter out of range");
  return static_cast<int64_t>(not_after) - now;
}

TlsOptions ReadTlsOptions(common::ConfigReader& r, TlsRole role) {
  TlsOptions t;
  t.role = role;
  t.require_client_cert = true;
  t.ca_file = r.Path("tls.ca");
  t.crl_files = r.PathArray("tls.crls");
  if (t.crl_files.empty() && !r.HasErrors()) {
    r.ErrorAt("tls.crls", "tls.crls must name the CRL of every CA in the chain");
  }
  t.cert_chain_file = r.Path("tls.cert");
  t.key_file = r.Path("tls.key");
  if (role == TlsRole::kClient) {
    const std::string pin = r.String("tls.ca_pin");
    static const std::regex kPin("^sha256:[0-9a-f]{64}$");
    if (std::regex_match(pin, kPin)) {
      t.ca_pin = pin;
    } else {
      r.ErrorAt("tls.ca_pin", "tls.ca_pin must be sha256:<64 hex> (mashctl pki pin root-ca.pem)");
    }
  }
  return t;
}

}  // namespace mash::crypto
