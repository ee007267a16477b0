// Enrolment X.509 (certificates.h). Only OpenSSL and common.
//
// The request's self-signature is checked (proof that the requester holds the key), and then the
// request is used for its public key only: the subject, the attributes and any extensions it
// asks for never reach the certificate, so a request for CA:TRUE or another agency's SAN gets
// exactly the fixed profile.
#include "mash/crypto/certificates.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <regex>

#include "mash/common/encoding.h"
#include "mash/common/private_file.h"
#include "openssl_errors.h"

namespace mash::crypto {
namespace {

constexpr size_t kMaxPemBytes = 64 * 1024;
constexpr size_t kSerialBytes = 16;
constexpr int64_t kBackdateSeconds = 300;  // tolerate a peer clock a little behind ours
constexpr char kAgencyUriPrefix[] = "urn:mash:agency:";

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

using internal::OpenSslErrors;
using internal::OpenSslInternal;

int NoPassphrase(char*, int, int, void*) { return 0; }

BioPtr MemBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslInternal("PEM encode");
  return BioText(bio.get());
}

Result<int64_t> ToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return InvalidArgument("malformed certificate time");
  const time_t v = timegm(&tm);
  if (v == static_cast<time_t>(-1)) return InvalidArgument("certificate time out of range");
  return static_cast<int64_t>(v);
}

Result<X509Ptr> ParseFirstCertificate(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return InvalidArgument("certificate PEM too large");
  BioPtr bio = MemBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!cert) return InvalidArgument("no PEM certificate: " + OpenSslErrors());
  return cert;
}

bool ValidAgencyId(const std::string& id) {
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  return std::regex_match(id, kId);
}

// ECDSA on P-256 or P-384, the curves of the hub PKI (security level 3 refuses smaller ones).
bool AcceptableKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1) {
    return false;
  }
  const std::string_view name(group, len);
  return name == "prime256v1" || name == "P-256" || name == "secp384r1" || name == "P-384";
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslInternal(std::string("cannot add extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

}  // namespace

struct IssuingCa::Impl {
  X509Ptr cert;
  PkeyPtr key;
  std::string cert_pem;
  int64_t not_after = 0;
};

IssuingCa::~IssuingCa() = default;

Result<std::unique_ptr<IssuingCa>> IssuingCa::Load(const std::filesystem::path& cert_file,
                                                   const std::filesystem::path& key_file) {
  ERR_clear_error();
  auto cert_text =
      common::ReadPrivateFile(cert_file, kMaxPemBytes, common::FileAccess::kWorldReadable);
  if (!cert_text.ok()) return cert_text.status().WithContext("issuing CA certificate");
  MASH_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(*cert_text));
  if (X509_check_ca(cert.get()) < 1) {
    return InvalidArgument("issuing CA certificate " + cert_file.string() + " is not a CA");
  }
  auto key_text = common::ReadPrivateFile(key_file, kMaxPemBytes);
  if (!key_text.ok()) return key_text.status().WithContext("issuing CA key");
  PkeyPtr key;
  {
    BioPtr bio = MemBio(*key_text);
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    OPENSSL_cleanse(key_text->data(), key_text->size());
  }
  if (!key) return InvalidArgument("cannot parse issuing CA key " + key_file.string());
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("issuing CA key does not match " + cert_file.string());
  }
  std::unique_ptr<IssuingCa> ca(new IssuingCa());
  ca->impl_ = std::make_unique<Impl>();
  MASH_ASSIGN_OR_RETURN(ca->impl_->cert_pem, CertPem(cert.get()));
  MASH_ASSIGN_OR_RETURN(ca->impl_->not_after, ToUnix(X509_get0_notAfter(cert.get())));
  ca->impl_->cert = std::move(cert);
  ca->impl_->key = std::move(key);
  return ca;
}

Result<IssuedCertificate> IssuingCa::IssueAgencyCertificate(const std::string& request_pem,
                                                            const std::string& agency_id,
                                                            int64_t now,
                                                            std::chrono::seconds lifetime) const {
  ERR_clear_error();
  if (!ValidAgencyId(agency_id)) return InvalidArgument("malformed agency id");
  if (lifetime.count() <= 0 || lifetime > kMaxLeafLifetime) {
    return InvalidArgument("certificate lifetime out of range");
  }
  if (request_pem.size() > kMaxPemBytes) return InvalidArgument("request too large");
  BioPtr bio = MemBio(request_pem);
  std::unique_ptr<X509_REQ, ReqFree> req(
      bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!req) {
    ERR_clear_error();
    return InvalidArgument("request does not parse");
  }
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(req.get());
  if (public_key == nullptr) {
    ERR_clear_error();
    return InvalidArgument("request has no public key");
  }
  if (X509_REQ_verify(req.get(), public_key) != 1) {
    ERR_clear_error();
    return InvalidArgument("request self-signature does not verify");
  }
  if (!AcceptableKey(public_key)) {
    ERR_clear_error();
    return InvalidArgument("request key is not ECDSA P-256 or P-384");
  }

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslInternal("X509_new");
  }
  // A random positive serial: 128 bits with the top bit cleared.
  std::array<unsigned char, kSerialBytes> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
    return OpenSslInternal("RAND_bytes");
  }
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never a leading zero byte, so the serial is always 16 bytes
  std::unique_ptr<BIGNUM, BnFree> bn(BN_bin2bn(serial.data(), serial.size(), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslInternal("serial");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(agency_id.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(impl_->cert.get())) != 1) {
    return OpenSslInternal("names");
  }
  const int64_t not_before = now - kBackdateSeconds;
  const int64_t not_after = std::min<int64_t>(now + lifetime.count(), impl_->not_after);
  if (not_after <= now) return FailedPrecondition("the issuing CA has expired");
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), public_key) != 1) {
    return OpenSslInternal("validity or key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, impl_->cert.get(), cert.get(), nullptr, nullptr, 0);
  MASH_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  MASH_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  MASH_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "clientAuth"));
  MASH_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  MASH_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  // The id matched ^[a-z][a-z0-9-]{1,31}$ above, so it cannot smuggle a second name in.
  MASH_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_alt_name,
                                    std::string("URI:") + kAgencyUriPrefix + agency_id));
  if (X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) <= 0) {
    return OpenSslInternal("X509_sign");
  }

  IssuedCertificate out;
  MASH_ASSIGN_OR_RETURN(std::string leaf_pem, CertPem(cert.get()));
  out.chain_pem = leaf_pem + impl_->cert_pem;
  out.serial_hex = common::HexEncode(serial);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1) return OpenSslInternal("digest");
  out.fingerprint = "sha256:" + common::HexEncode({md, md_len});
  out.not_before = not_before;
  out.not_after = not_after;
  return out;
}

Result<KeyAndRequest> MakeKeyAndRequest(const std::string& common_name) {
  ERR_clear_error();
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslInternal("cannot make an ECDSA P-256 key");
  std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return OpenSslInternal("X509_REQ_new");
  }
  if (X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return OpenSslInternal("cannot make the certificate request");
  }
  KeyAndRequest out;
  BioPtr req_bio(BIO_new(BIO_s_mem()));
  if (!req_bio || PEM_write_bio_X509_REQ(req_bio.get(), req.get()) != 1) {
    return OpenSslInternal("PEM encode request");
  }
  out.request_pem = BioText(req_bio.get());
  BioPtr key_bio(BIO_new(BIO_s_secmem()));
  if (!key_bio || PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    return OpenSslInternal("PEM encode key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(key_bio.get(), &data);
  if (len <= 0) return OpenSslInternal("PEM encode key");
  out.key_pem =
      SecureBuffer::CopyOf({reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)});
  return out;
}

Result<Validity> CertificateValidity(const std::string& pem) {
  ERR_clear_error();
  MASH_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(pem));
  Validity v;
  MASH_ASSIGN_OR_RETURN(v.not_before, ToUnix(X509_get0_notBefore(cert.get())));
  MASH_ASSIGN_OR_RETURN(v.not_after, ToUnix(X509_get0_notAfter(cert.get())));
  return v;
}

std::string RenewalMessage(const std::string& agency, int64_t timestamp,
                           const std::string& request_pem) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(request_pem.data(), request_pem.size(), md, &md_len, EVP_sha256(), nullptr);
  return "mash-renew-v1\n" + agency + "\n" + std::to_string(timestamp) + "\n" +
         common::HexEncode({md, md_len});
}

Result<std::string> SpkiPinOfPem(const std::string& pem) {
  ERR_clear_error();
  MASH_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(pem));
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (len <= 0) return OpenSslInternal("cannot encode the public key");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  const bool ok =
      EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return OpenSslInternal("cannot hash the public key");
  return "sha256:" + common::HexEncode({md, md_len});
}

}  // namespace mash::crypto
