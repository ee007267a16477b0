// The enrolment CA (crypto/certificates.h): the fixed profile whatever the request asks for, and
// refusal of requests whose self-signature does not verify.
#include "mash/crypto/certificates.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>

#include "mash/common/clock.h"
#include "support/test_pki.h"

namespace mash::crypto {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15

struct Req {
  EVP_PKEY* key = nullptr;
  X509_REQ* req = nullptr;
  ~Req() {
    X509_REQ_free(req);
    EVP_PKEY_free(key);
  }
};

std::string Pem(X509_REQ* req) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

// A request for `cn` that also asks for `extensions` (conf strings by NID), signed with its key.
void MakeRequest(Req& r, const std::vector<std::pair<int, std::string>>& extensions) {
  r.key = EVP_EC_gen("P-256");
  ASSERT_NE(r.key, nullptr);
  r.req = X509_REQ_new();
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r.req), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("health"), -1, -1, 0);
  X509_REQ_set_pubkey(r.req, r.key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str());
    ASSERT_NE(e, nullptr) << value;
    sk_X509_EXTENSION_push(exts, e);
  }
  if (!extensions.empty()) X509_REQ_add_extensions(r.req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  ASSERT_GT(X509_REQ_sign(r.req, r.key, EVP_sha256()), 0);
}

X509* FirstCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

std::vector<std::string> Uris(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) {
      out.push_back("non-URI name");
      continue;
    }
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.ia5)),
                     ASN1_STRING_length(n->d.ia5));
  }
  GENERAL_NAMES_free(names);
  return out;
}

class CertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    pki_ = testing::TestPki::Create({"police"});
    auto ca = IssuingCa::Load(pki_->issuing_ca(), pki_->key("issuing-ca"));
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = std::move(*ca);
  }
  std::unique_ptr<testing::TestPki> pki_;
  std::unique_ptr<IssuingCa> ca_;
};

TEST_F(CertificatesTest, IssuesOnlyTheFixedProfileWhateverTheRequestAsksFor) {
  Req r;
  MakeRequest(r, {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_subject_alt_name, "URI:urn:mash:agency:health,DNS:evil.example"},
                  {NID_ext_key_usage, "serverAuth,codeSigning"},
                  {NID_key_usage, "keyCertSign,cRLSign"}});
  const int64_t now = common::SystemClock().NowUnix();
  auto issued = ca_->IssueAgencyCertificate(Pem(r.req), "police", now, kMaxLeafLifetime);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  X509* cert = FirstCert(issued->chain_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Uris(cert), std::vector<std::string>{"urn:mash:agency:police"});
  EXPECT_EQ(X509_check_ca(cert), 0);
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_FALSE(bc->ca);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_NE(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  // The request's key is the certificate's key.
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), r.key), 1);
  EXPECT_LE(issued->not_after - now, kMaxLeafLifetime.count());
  EXPECT_EQ(issued->serial_hex.size(), 32u);
  X509_free(cert);
  // The chain's second certificate is the issuing CA.
  EXPECT_NE(issued->chain_pem.find("-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----"),
            std::string::npos);
}

TEST_F(CertificatesTest, SerialsAreRandom) {
  auto made = MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  auto a = ca_->IssueAgencyCertificate(made->request_pem, "police", kNow, std::chrono::hours(24));
  auto b = ca_->IssueAgencyCertificate(made->request_pem, "police", kNow, std::chrono::hours(24));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->serial_hex, b->serial_hex);
  EXPECT_NE(a->fingerprint, b->fingerprint);
}

TEST_F(CertificatesTest, RefusesARequestWhoseSelfSignatureDoesNotVerify) {
  Req r;
  MakeRequest(r, {});
  // Claim another key than the one that signed: the request no longer proves possession.
  EVP_PKEY* other = EVP_EC_gen("P-256");
  ASSERT_EQ(X509_REQ_set_pubkey(r.req, other), 1);
  auto issued = ca_->IssueAgencyCertificate(Pem(r.req), "police", kNow, std::chrono::hours(24));
  EVP_PKEY_free(other);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(issued.status().message().find("self-signature"), std::string::npos);

  // A flipped bit in an otherwise good request's PEM body.
  auto made = MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  std::string pem = made->request_pem;
  const size_t mid = pem.find('\n') + 40;
  pem[mid] = pem[mid] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ca_->IssueAgencyCertificate(pem, "police", kNow, std::chrono::hours(24)).ok());
}

TEST_F(CertificatesTest, RefusesBadIdsLifetimesAndGarbage) {
  auto made = MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE(
      ca_->IssueAgencyCertificate(made->request_pem, "Police,URI:x", kNow, std::chrono::hours(1))
          .ok());
  EXPECT_FALSE(ca_->IssueAgencyCertificate(made->request_pem, "police", kNow,
                                           kMaxLeafLifetime + std::chrono::seconds(1))
                   .ok());
  EXPECT_FALSE(
      ca_->IssueAgencyCertificate("not a request", "police", kNow, std::chrono::hours(1)).ok());
}

TEST_F(CertificatesTest, LoadRefusesALooseKeyAndALeafAsCa) {
  std::filesystem::permissions(pki_->key("issuing-ca"), std::filesystem::perms(0644));
  auto loose = IssuingCa::Load(pki_->issuing_ca(), pki_->key("issuing-ca"));
  ASSERT_FALSE(loose.ok());
  EXPECT_EQ(loose.status().code(), StatusCode::kFailedPrecondition);
  auto leaf = IssuingCa::Load(pki_->agency_chain("police"), pki_->agency_key("police"));
  ASSERT_FALSE(leaf.ok());
  EXPECT_EQ(leaf.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CertificatesTest, ValidityAndPinOfPem) {
  auto made = MakeKeyAndRequest("police");
  ASSERT_TRUE(made.ok());
  auto issued =
      ca_->IssueAgencyCertificate(made->request_pem, "police", kNow, std::chrono::hours(2));
  ASSERT_TRUE(issued.ok());
  auto v = CertificateValidity(issued->chain_pem);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->not_after, issued->not_after);
  EXPECT_EQ(v->not_after - v->not_before, 2 * 3600 + 300);
  std::ifstream root(pki_->root_ca());
  const std::string root_pem((std::istreambuf_iterator<char>(root)), {});
  EXPECT_EQ(*SpkiPinOfPem(root_pem), pki_->ca_pin());
}

}  // namespace
}  // namespace mash::crypto
