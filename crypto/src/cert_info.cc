#include "mash/crypto/cert_info.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string_view>

#include "mash/common/encoding.h"

namespace mash::crypto {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};

constexpr std::string_view kAgencyUriPrefix = "urn:mash:agency:";

std::string NameText(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : "";
}

Result<int64_t> UnixTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return InvalidArgument("certificate has a malformed validity date");
  }
  const time_t out = timegm(&tm);
  if (out == static_cast<time_t>(-1)) return InvalidArgument("certificate date out of range");
  return static_cast<int64_t>(out);
}

std::string Ia5Text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

PeerVerifyOutcome PeerVerifyResultOf(SSL* ssl) {
  PeerVerifyOutcome out;
  if (ssl == nullptr) return out;
  const long rc = SSL_get_verify_result(ssl);
  if (rc == X509_V_OK) return out;
  out.text = X509_verify_cert_error_string(rc);
  switch (rc) {
    case X509_V_ERR_APPLICATION_VERIFICATION:
      out.problem = PeerVerifyProblem::kPin;  // the only application check is the pin (tls.cc)
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      out.problem = PeerVerifyProblem::kName;
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      out.problem = PeerVerifyProblem::kExpired;
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      out.problem = PeerVerifyProblem::kNotYetValid;
      break;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
      out.problem = PeerVerifyProblem::kCrl;
      break;
    case X509_V_ERR_CERT_REVOKED:
      out.problem = PeerVerifyProblem::kRevoked;
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      out.problem = PeerVerifyProblem::kUntrusted;
      break;
    default:
      out.problem = PeerVerifyProblem::kOther;
  }
  return out;
}

std::string TlsLibraryVersion() { return OpenSSL_version(OPENSSL_VERSION); }

Result<CertificateInfo> DescribeCertificate(const std::filesystem::path& pem) {
  ERR_clear_error();
  std::error_code ec;
  if (!std::filesystem::exists(pem, ec)) return NotFound("certificate not found: " + pem.string());
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(pem.c_str(), "r"));
  if (!bio) return InvalidArgument("cannot open " + pem.string());
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return InvalidArgument("no PEM certificate in " + pem.string());

  CertificateInfo info;
  info.subject = NameText(X509_get_subject_name(cert.get()));
  info.issuer = NameText(X509_get_issuer_name(cert.get()));
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      info.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  MASH_ASSIGN_OR_RETURN(info.not_before, UnixTime(X509_get0_notBefore(cert.get())));
  MASH_ASSIGN_OR_RETURN(info.not_after, UnixTime(X509_get0_notAfter(cert.get())));

  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      info.sans.push_back("DNS:" + Ia5Text(name->d.dNSName));
    } else if (name->type == GEN_URI) {
      const std::string uri = Ia5Text(name->d.uniformResourceIdentifier);
      info.sans.push_back("URI:" + uri);
      if (uri.rfind(kAgencyUriPrefix, 0) == 0) {
        info.agency_id = uri.substr(kAgencyUriPrefix.size());
      }
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const unsigned char* b = ASN1_STRING_get0_data(ip);
      std::string text;
      if (ASN1_STRING_length(ip) == 4) {
        text = std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) +
               "." + std::to_string(b[3]);
      } else {
        text = common::HexEncode(
            std::span<const uint8_t>(b, static_cast<size_t>(ASN1_STRING_length(ip))));
      }
      info.sans.push_back("IP:" + text);
    }
  }

  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (len > 0) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr) == 1) {
      info.spki_pin = "sha256:" + common::HexEncode(std::span<const uint8_t>(md, md_len));
    }
    OPENSSL_free(der);
  }
  ERR_clear_error();
  return info;
}

}  // namespace mash::crypto
