#include "mash/crypto/envelope.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mash/common/clock.h"
#include "mash/common/encoding.h"

namespace mash::crypto {
namespace {

using common::AsBytes;
using common::Base64Encode;
using nlohmann::json;

class SodiumEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { common::InitCrypto(); }
};
[[maybe_unused]] ::testing::Environment* const kSodiumEnv =
    ::testing::AddGlobalTestEnvironment(new SodiumEnvironment);

constexpr int64_t kNow = 1'800'000'000;

// Remembers ids per sender and the last sequence per sender, like the storage-backed guard.
class MemoryGuard : public ReplayGuard {
 public:
  struct Call {
    std::string sender;
    std::string id;
    uint64_t sequence;
    int64_t keep_until;
  };

  Status CheckAndRecord(const std::string& sender, const std::string& id, uint64_t sequence,
                        int64_t keep_until) override {
    calls.push_back({sender, id, sequence, keep_until});
    if (unavailable) return Unavailable("store down");
    if (ids.count(sender + '\n' + id) != 0) return AlreadyExists("id seen");
    auto it = last_sequence.find(sender);
    if (it != last_sequence.end() && sequence <= it->second) {
      return AlreadyExists("sequence not increasing");
    }
    ids.insert(sender + '\n' + id);
    last_sequence[sender] = sequence;
    return Status::Ok();
  }

  bool unavailable = false;
  std::vector<Call> calls;
  std::set<std::string> ids;
  std::map<std::string, uint64_t> last_sequence;
};

Bytes ToBytes(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

SigningKey SigningKeyFromByte(uint8_t b) {
  auto k = SigningKey::FromSeed(Bytes(32, b));
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}
EncryptionKey EncryptionKeyFromByte(uint8_t b) {
  auto k = EncryptionKey::FromSecret(Bytes(32, b));
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}

// The SignedBytes construction written out again from docs/envelope.md, independently of the
// library, so that the tests pin the format rather than the implementation.
Bytes SpecSignedBytes(std::span<const uint8_t> header, std::span<const uint8_t> key,
                      std::span<const uint8_t> nonce, std::span<const uint8_t> body) {
  const std::string domain = "MASH-ENVELOPE-V1";
  Bytes out(domain.begin(), domain.end());
  out.push_back(0);
  for (auto field : {header, key, nonce, body}) {
    const uint32_t n = static_cast<uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(n >> shift));
    out.insert(out.end(), field.begin(), field.end());
  }
  return out;
}

// Builds an envelope straight from the spec with libsodium, with knobs to make it wrong in ways
// Seal refuses to: any header bytes, another associated data, a key sealed to someone else.
SealedEnvelope SpecSeal(std::string_view header, std::span<const uint8_t> plaintext,
                        const SigningKey& signer, const EncryptionPublicKey& to,
                        std::optional<std::string_view> ad = std::nullopt) {
  const std::string_view aad = ad.value_or(header);
  SealedEnvelope env;
  env.header = ToBytes(AsBytes(header));
  uint8_t content_key[32];
  randombytes_buf(content_key, sizeof content_key);
  env.nonce.resize(24);
  randombytes_buf(env.nonce.data(), env.nonce.size());
  env.body.resize(plaintext.size() + 16);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(env.body.data(), &len, plaintext.data(),
                                             plaintext.size(),
                                             reinterpret_cast<const uint8_t*>(aad.data()),
                                             aad.size(), nullptr, env.nonce.data(), content_key);
  env.key.resize(32 + crypto_box_SEALBYTES);
  crypto_box_seal(env.key.data(), content_key, sizeof content_key, to.bytes.data());
  sodium_memzero(content_key, sizeof content_key);
  const auto sig = signer.Sign(SpecSignedBytes(env.header, env.key, env.nonce, env.body));
  env.sig = ToBytes(sig);
  return env;
}

void Resign(SealedEnvelope& env, const SigningKey& signer) {
  env.sig = ToBytes(signer.Sign(SpecSignedBytes(env.header, env.key, env.nonce, env.body)));
}

class EnvelopeTest : public ::testing::Test {
 protected:
  EnvelopeTest()
      : alice_(SigningKeyFromByte(0xA1)),
        mallory_(SigningKeyFromByte(0x66)),
        hub_(EncryptionKeyFromByte(0xB2)),
        other_enc_(EncryptionKeyFromByte(0xC3)) {}

  EnvelopeHeader Header() {
    EnvelopeHeader h;
    h.type = "query";
    h.id = random_.Hex(16);
    h.sender = "agency-a";
    h.sender_key = alice_.Public().Fingerprint();
    h.recipient = "hub";
    h.recipient_key = hub_.Public().Fingerprint();
    h.issued_at = kNow;
    h.expires_at = kNow + 120;
    h.sequence = next_sequence_++;
    h.check_ref = "chk-0001";
    h.purpose = "safeguarding";
    h.lawful_basis = "uk_gdpr_6_1_e";
    h.consent = "override:risk_of_harm";
    h.urgency = "urgent";
    h.policy_hash = "";
    return h;
  }

  OpenExpectations Expect(int64_t now = kNow) const {
    OpenExpectations e;
    e.sender = "agency-a";
    e.sender_key = &alice_.Public();
    e.self_id = "hub";
    e.self_key = &hub_;
    e.now = now;
    return e;
  }

  SealedEnvelope SealOk(const EnvelopeHeader& h, std::string_view plaintext = "subject: J. Doe") {
    auto env = Seal(h, AsBytes(plaintext), alice_, hub_.Public(), random_);
    EXPECT_TRUE(env.ok()) << env.status().ToString();
    return env.ok() ? std::move(env).value() : SealedEnvelope{};
  }

  // Opens with a fresh guard unless one is given; returns the status.
  Status OpenStatus(const SealedEnvelope& env, const OpenExpectations& e,
                    MemoryGuard* guard = nullptr) {
    MemoryGuard fresh;
    return Open(env, e, guard != nullptr ? *guard : fresh).status();
  }

  static void ExpectRejected(const Status& s, std::string_view reason) {
    EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
    EXPECT_EQ(s.message(), reason);
  }

  common::SystemRandom random_;
  uint64_t next_sequence_ = 1;
  SigningKey alice_;
  SigningKey mallory_;
  EncryptionKey hub_;
  EncryptionKey other_enc_;
};

// ---- happy path and format ----

TEST_F(EnvelopeTest, RoundTripsThroughJson) {
  const EnvelopeHeader h = Header();
  const SealedEnvelope sealed = SealOk(h, "subject: J. Doe, dob 2011-04-01");
  const std::string wire = sealed.ToJson().dump();

  auto parsed = SealedEnvelope::FromJson(json::parse(wire));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  MemoryGuard guard;
  auto opened = Open(*parsed, Expect(), guard);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(common::AsString(opened->plaintext.span()), "subject: J. Doe, dob 2011-04-01");
  EXPECT_EQ(opened->header.Encode(), h.Encode());
  EXPECT_EQ(opened->header.id, h.id);
  EXPECT_EQ(opened->header.sequence, h.sequence);
  EXPECT_EQ(opened->hash, sealed.Hash());
  EXPECT_EQ(guard.calls.size(), 1u);
}

TEST_F(EnvelopeTest, EmptyPlaintextRoundTrips) {
  MemoryGuard guard;
  auto opened = Open(SealOk(Header(), ""), Expect(), guard);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(opened->plaintext.empty());
}

TEST_F(EnvelopeTest, SealedFieldsHaveTheDocumentedSizes) {
  const EnvelopeHeader h = Header();
  const SealedEnvelope env = SealOk(h, "12345");
  EXPECT_EQ(common::AsString(env.header), h.Encode());
  EXPECT_EQ(env.key.size(), 32u + 48u);
  EXPECT_EQ(env.nonce.size(), kNonceSize);
  EXPECT_EQ(env.body.size(), 5u + 16u);
  EXPECT_EQ(env.sig.size(), kSignatureSize);
  auto decoded = EnvelopeHeader::Decode(common::AsString(env.header));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->Encode(), common::AsString(env.header));
}

TEST_F(EnvelopeTest, SignatureCoversSpecSignedBytes) {
  const SealedEnvelope env = SealOk(Header());
  const Bytes spec = SpecSignedBytes(env.header, env.key, env.nonce, env.body);
  EXPECT_EQ(SignedBytes(env.header, env.key, env.nonce, env.body), spec);
  EXPECT_TRUE(VerifySignature(alice_.Public(), spec, env.sig).ok());
  EXPECT_EQ(env.Hash(), Sha256(spec));
}

TEST(SignedBytesTest, HasDomainSeparatorAndBigEndianLengths) {
  const Bytes h = {0x7B}, k = {0x01, 0x02}, n = {}, b = {0xFF};
  const Bytes expected = {'M',  'A',  'S', 'H',  '-', 'E', 'N', 'V', 'E',  'L', 'O', 'P', 'E',
                          '-',  'V',  '1', 0x00, 0,   0,   0,   1,   0x7B, 0,   0,   0,   2,
                          0x01, 0x02, 0,   0,    0,   0,   0,   0,   0,    1,   0xFF};
  EXPECT_EQ(SignedBytes(h, k, n, b), expected);
  const Bytes big(300, 0xEE);
  const Bytes out = SignedBytes(big, {}, {}, {});
  EXPECT_EQ(out[17], 0);
  EXPECT_EQ(out[18], 0);
  EXPECT_EQ(out[19], 0x01);
  EXPECT_EQ(out[20], 0x2C);
  // Moving a byte from one field to the next changes the signed bytes.
  EXPECT_NE(SignedBytes(Bytes{1, 2}, Bytes{3}, {}, {}), SignedBytes(Bytes{1}, Bytes{2, 3}, {}, {}));
}

TEST_F(EnvelopeTest, SpecBuiltEnvelopeOpens) {
  const EnvelopeHeader h = Header();
  const SealedEnvelope env = SpecSeal(h.Encode(), AsBytes("hello"), alice_, hub_.Public());
  MemoryGuard guard;
  auto opened = Open(env, Expect(), guard);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(common::AsString(opened->plaintext.span()), "hello");
}

// ---- header encoding ----

EnvelopeHeader FixedHeader() {
  EnvelopeHeader h;
  h.type = "query";
  h.id = "00112233445566778899aabbccddeeff";
  h.sender = "agency-a";
  h.sender_key = "sha256:aa";
  h.recipient = "hub";
  h.recipient_key = "sha256:bb";
  h.issued_at = 1700000000;
  h.expires_at = 1700000120;
  h.sequence = 7;
  h.check_ref = "c-1";
  h.purpose = "p";
  h.lawful_basis = "lb";
  h.consent = "given";
  h.urgency = "routine";
  h.policy_hash = "";
  return h;
}

constexpr const char* kFixedHeaderJson =
    R"({"check_ref":"c-1","consent":"given","expires_at":1700000120,)"
    R"("id":"00112233445566778899aabbccddeeff","issued_at":1700000000,"lawful_basis":"lb",)"
    R"("policy_hash":"","purpose":"p","recipient":"hub","recipient_key":"sha256:bb",)"
    R"("sender":"agency-a","sender_key":"sha256:aa","sequence":7,"type":"query",)"
    R"("urgency":"routine","version":1})";

TEST(EnvelopeHeaderTest, EncodesCanonicalSortedCompactJson) {
  EXPECT_EQ(FixedHeader().Encode(), kFixedHeaderJson);
}

TEST(EnvelopeHeaderTest, DecodeRoundTripsAllFields) {
  EnvelopeHeader h = FixedHeader();
  h.issued_at = std::numeric_limits<int64_t>::min();
  h.expires_at = std::numeric_limits<int64_t>::max();
  h.sequence = std::numeric_limits<uint64_t>::max();
  h.version = -3;
  h.purpose = "caf\xC3\xA9 \"quoted\" \\ line\nnext";
  auto d = EnvelopeHeader::Decode(h.Encode());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->version, -3);
  EXPECT_EQ(d->type, h.type);
  EXPECT_EQ(d->id, h.id);
  EXPECT_EQ(d->sender, h.sender);
  EXPECT_EQ(d->sender_key, h.sender_key);
  EXPECT_EQ(d->recipient, h.recipient);
  EXPECT_EQ(d->recipient_key, h.recipient_key);
  EXPECT_EQ(d->issued_at, h.issued_at);
  EXPECT_EQ(d->expires_at, h.expires_at);
  EXPECT_EQ(d->sequence, h.sequence);
  EXPECT_EQ(d->check_ref, h.check_ref);
  EXPECT_EQ(d->purpose, h.purpose);
  EXPECT_EQ(d->lawful_basis, h.lawful_basis);
  EXPECT_EQ(d->consent, h.consent);
  EXPECT_EQ(d->urgency, h.urgency);
  EXPECT_EQ(d->policy_hash, h.policy_hash);
}

// Re-serialises a modified header object canonically (nlohmann sorts keys), so that only the
// modification differs from a valid header.
std::string WithField(const std::string& field, const json& value) {
  json j = json::parse(kFixedHeaderJson);
  j[field] = value;
  return j.dump();
}

TEST(EnvelopeHeaderTest, DecodeAcceptsTheFixedHeader) {
  EXPECT_TRUE(EnvelopeHeader::Decode(kFixedHeaderJson).ok());
  EXPECT_TRUE(EnvelopeHeader::Decode(WithField("check_ref", "other")).ok());
}

TEST(EnvelopeHeaderTest, DecodeRejectsEachMissingField) {
  const json full = json::parse(kFixedHeaderJson);
  ASSERT_EQ(full.size(), 16u);
  for (const auto& [name, unused] : full.items()) {
    json j = full;
    j.erase(name);
    auto d = EnvelopeHeader::Decode(j.dump());
    ASSERT_FALSE(d.ok()) << name;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST(EnvelopeHeaderTest, DecodeRejectsUnknownField) {
  for (const char* extra : {"extra", "Version", "a", "zzz"}) {
    auto d = EnvelopeHeader::Decode(WithField(extra, "x"));
    ASSERT_FALSE(d.ok()) << extra;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(EnvelopeHeaderTest, DecodeRejectsWrongTypes) {
  const char* strings[] = {"type",          "id",         "sender",  "sender_key",   "recipient",
                           "recipient_key", "check_ref",  "purpose", "lawful_basis", "consent",
                           "urgency",       "policy_hash"};
  for (const char* f : strings) {
    for (const json& bad : {json(1), json(true), json(nullptr), json::array(), json::object()}) {
      EXPECT_EQ(EnvelopeHeader::Decode(WithField(f, bad)).status().code(),
                StatusCode::kInvalidArgument)
          << f << "=" << bad.dump();
    }
  }
  for (const char* f : {"version", "issued_at", "expires_at", "sequence"}) {
    for (const json& bad : {json("1"), json(1.5), json(1.0), json(true), json(nullptr),
                            json::array({1}), json::object()}) {
      EXPECT_EQ(EnvelopeHeader::Decode(WithField(f, bad)).status().code(),
                StatusCode::kInvalidArgument)
          << f << "=" << bad.dump();
    }
  }
  EXPECT_FALSE(EnvelopeHeader::Decode(WithField("sequence", -1)).ok());
  EXPECT_FALSE(EnvelopeHeader::Decode(WithField("version", int64_t{1} << 40)).ok());
  EXPECT_FALSE(
      EnvelopeHeader::Decode(WithField("issued_at", std::numeric_limits<uint64_t>::max())).ok());
  // Numbers too large for 64 bits become floats in the parser and are refused with them.
  std::string huge = kFixedHeaderJson;
  huge.replace(huge.find("\"sequence\":7"), 12, "\"sequence\":99999999999999999999");
  EXPECT_FALSE(EnvelopeHeader::Decode(huge).ok());
}

TEST(EnvelopeHeaderTest, DecodeRejectsBadIds) {
  for (const char* id : {"", "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeef",
                         "00112233445566778899aabbccddeeff0", "00112233445566778899aabbccddeefg",
                         "0011223344556677-899aabbccddeeff"}) {
    EXPECT_EQ(EnvelopeHeader::Decode(WithField("id", id)).status().code(),
              StatusCode::kInvalidArgument)
        << id;
  }
}

TEST(EnvelopeHeaderTest, DecodeRejectsNonCanonicalSpellings) {
  const std::string good = kFixedHeaderJson;
  std::vector<std::string> cases;
  cases.push_back(" " + good);
  cases.push_back(good + "\n");
  cases.push_back("{ " + good.substr(1));
  cases.push_back("\xEF\xBB\xBF" + good);  // byte order mark
  {
    std::string s = good;  // same value, escaped spelling
    s.replace(s.find("\"query\""), 7, "\"\\u0071uery\"");
    cases.push_back(s);
  }
  {
    std::string s = good;  // duplicate key (the parser keeps the last one)
    s.replace(0, 1, "{\"check_ref\":\"evil\",");
    cases.push_back(s);
  }
  {
    json j = json::parse(good);  // keys out of order
    nlohmann::ordered_json o;
    o["version"] = 1;
    for (const auto& [k, v] : j.items()) o[k] = v;
    cases.push_back(o.dump());
  }
  {
    std::string s = good;
    s.replace(s.find("\"sequence\":7"), 12, "\"sequence\":7.0");
    cases.push_back(s);
  }
  {
    std::string s = good;
    s.replace(s.find("\"sequence\":7"), 12, "\"sequence\":07");
    cases.push_back(s);
  }
  for (const auto& c : cases) {
    EXPECT_EQ(EnvelopeHeader::Decode(c).status().code(), StatusCode::kInvalidArgument) << c;
  }
  // Control: the unmodified text is accepted.
  EXPECT_TRUE(EnvelopeHeader::Decode(good).ok());
}

TEST(EnvelopeHeaderTest, DecodeRejectsNonObjectsAndBrokenJson) {
  for (const char* text : {"", "null", "[]", "\"x\"", "1", "{", "{}", "{\"version\":1", "\xFF\xFE",
                           "{\"check_ref\":\"\xC3\"}"}) {
    EXPECT_EQ(EnvelopeHeader::Decode(text).status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(EnvelopeHeaderTest, DecodeRejectsOversizedHeader) {
  EnvelopeHeader h = FixedHeader();
  h.check_ref = "";
  const size_t base = h.Encode().size();
  h.check_ref = std::string(kMaxHeaderBytes - base, 'x');
  ASSERT_EQ(h.Encode().size(), kMaxHeaderBytes);
  EXPECT_TRUE(EnvelopeHeader::Decode(h.Encode()).ok());
  h.check_ref.push_back('x');
  EXPECT_EQ(EnvelopeHeader::Decode(h.Encode()).status().code(), StatusCode::kInvalidArgument);
}

// ---- tampering ----

TEST_F(EnvelopeTest, RejectsFlippedBitInEveryRegion) {
  const SealedEnvelope good = SealOk(Header(), "abc");
  ASSERT_TRUE(OpenStatus(good, Expect()).ok());
  MemoryGuard guard;
  size_t tried = 0;
  for (Bytes SealedEnvelope::*region :
       {&SealedEnvelope::header, &SealedEnvelope::key, &SealedEnvelope::nonce,
        &SealedEnvelope::body, &SealedEnvelope::sig}) {
    const size_t size = (good.*region).size();
    ASSERT_GT(size, 0u);
    for (size_t i = 0; i < size; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        SealedEnvelope env = good;
        (env.*region)[i] ^= static_cast<uint8_t>(1u << bit);
        auto r = Open(env, Expect(), guard);
        ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
        ASSERT_EQ(r.status().code(), StatusCode::kUnauthenticated);
        ASSERT_EQ(r.status().message(), "signature invalid");
        ++tried;
      }
    }
  }
  EXPECT_EQ(tried, 8 * (good.header.size() + good.key.size() + good.nonce.size() +
                        good.body.size() + good.sig.size()));
  // Nothing unauthenticated reached the replay guard.
  EXPECT_TRUE(guard.calls.empty());
}

TEST_F(EnvelopeTest, RejectsTruncatedOrExtendedFields) {
  const SealedEnvelope good = SealOk(Header(), "abc");
  MemoryGuard guard;
  for (Bytes SealedEnvelope::*region :
       {&SealedEnvelope::header, &SealedEnvelope::key, &SealedEnvelope::nonce,
        &SealedEnvelope::body, &SealedEnvelope::sig}) {
    SealedEnvelope shorter = good;
    (shorter.*region).pop_back();
    ExpectRejected(OpenStatus(shorter, Expect(), &guard), "signature invalid");
    SealedEnvelope longer = good;
    (longer.*region).push_back(0);
    ExpectRejected(OpenStatus(longer, Expect(), &guard), "signature invalid");
    SealedEnvelope empty = good;
    (empty.*region).clear();
    ExpectRejected(OpenStatus(empty, Expect(), &guard), "signature invalid");
  }
  // Moving the boundary between two fields keeps the concatenation but not the signed bytes.
  SealedEnvelope shifted = good;
  shifted.body.insert(shifted.body.begin(), shifted.nonce.back());
  shifted.nonce.pop_back();
  ExpectRejected(OpenStatus(shifted, Expect(), &guard), "signature invalid");
  EXPECT_TRUE(guard.calls.empty());
}

TEST_F(EnvelopeTest, RejectsSignedButMisSizedKeyOrNonce) {
  // Sizes are checked after the signature: a sender that signs nonsense gets a clear reason.
  SealedEnvelope env = SealOk(Header());
  env.nonce.pop_back();
  Resign(env, alice_);
  ExpectRejected(OpenStatus(env, Expect()), "malformed envelope");
  env = SealOk(Header());
  env.key.push_back(0);
  Resign(env, alice_);
  ExpectRejected(OpenStatus(env, Expect()), "malformed envelope");
  env = SealOk(Header());
  env.body.resize(15);
  Resign(env, alice_);
  ExpectRejected(OpenStatus(env, Expect()), "malformed envelope");
}

// ---- identities ----

TEST_F(EnvelopeTest, RejectsWrongSenderKey) {
  const SealedEnvelope env = SealOk(Header());
  OpenExpectations e = Expect();
  e.sender_key = &mallory_.Public();
  ExpectRejected(OpenStatus(env, e), "signature invalid");
}

TEST_F(EnvelopeTest, RejectsEnvelopeSignedByAnotherKeyClaimingTheSender) {
  EnvelopeHeader h = Header();
  const SealedEnvelope env = SpecSeal(h.Encode(), AsBytes("x"), mallory_, hub_.Public());
  ExpectRejected(OpenStatus(env, Expect()), "signature invalid");
}

TEST_F(EnvelopeTest, RejectsSenderIdMismatch) {
  // Alice's key signs correctly, but the header claims to come from another agency.
  EnvelopeHeader h = Header();
  h.sender = "agency-b";
  const SealedEnvelope env = SealOk(h);
  ExpectRejected(OpenStatus(env, Expect()), "wrong sender");
  // And the other way round: the connection belongs to agency-b.
  OpenExpectations e = Expect();
  e.sender = "agency-b";
  ExpectRejected(OpenStatus(SealOk(Header()), e), "wrong sender");
}

TEST_F(EnvelopeTest, RejectsHeaderNamingAnotherSenderKey) {
  EnvelopeHeader h = Header();
  h.sender_key = mallory_.Public().Fingerprint();
  const SealedEnvelope env = SpecSeal(h.Encode(), AsBytes("x"), alice_, hub_.Public());
  ExpectRejected(OpenStatus(env, Expect()), "wrong sender key");
}

TEST_F(EnvelopeTest, RejectsWrongRecipientId) {
  OpenExpectations e = Expect();
  e.self_id = "agency-c";
  ExpectRejected(OpenStatus(SealOk(Header()), e), "wrong recipient");
}

TEST_F(EnvelopeTest, RejectsWrongRecipientKey) {
  // Addressed to the hub's key; opened by a party with the same id but another key.
  OpenExpectations e = Expect();
  e.self_key = &other_enc_;
  ExpectRejected(OpenStatus(SealOk(Header()), e), "wrong recipient key");
  // The header names another key although the content key was sealed to ours.
  EnvelopeHeader h = Header();
  h.recipient_key = other_enc_.Public().Fingerprint();
  const SealedEnvelope env = SpecSeal(h.Encode(), AsBytes("x"), alice_, hub_.Public());
  ExpectRejected(OpenStatus(env, Expect()), "wrong recipient key");
}

// ---- time window ----

TEST_F(EnvelopeTest, RejectsExpiredBeyondSkewAcceptsWithinSkew) {
  const EnvelopeHeader h = Header();  // expires at kNow + 120
  const SealedEnvelope env = SealOk(h);
  EXPECT_TRUE(OpenStatus(env, Expect(h.expires_at)).ok());
  EXPECT_TRUE(OpenStatus(env, Expect(h.expires_at + kMaxClockSkewSeconds)).ok());
  ExpectRejected(OpenStatus(env, Expect(h.expires_at + kMaxClockSkewSeconds + 1)), "expired");
  ExpectRejected(OpenStatus(env, Expect(h.expires_at + 86400)), "expired");
}

TEST_F(EnvelopeTest, RejectsNotYetValidBeyondSkewAcceptsWithinSkew) {
  const EnvelopeHeader h = Header();  // issued at kNow
  const SealedEnvelope env = SealOk(h);
  EXPECT_TRUE(OpenStatus(env, Expect(kNow - kMaxClockSkewSeconds)).ok());
  ExpectRejected(OpenStatus(env, Expect(kNow - kMaxClockSkewSeconds - 1)), "not yet valid");
  ExpectRejected(OpenStatus(env, Expect(kNow - 3600)), "not yet valid");
}

TEST_F(EnvelopeTest, RejectsLifetimeTooLong) {
  EnvelopeHeader h = Header();
  h.expires_at = h.issued_at + kMaxLifetimeSeconds;
  EXPECT_TRUE(OpenStatus(SealOk(h), Expect()).ok());
  h = Header();
  h.expires_at = h.issued_at + kMaxLifetimeSeconds + 1;
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "lifetime too long");
  h = Header();
  h.expires_at = h.issued_at + 86400 * 365;
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "lifetime too long");
}

TEST_F(EnvelopeTest, RejectsEmptyOrNegativeLifetime) {
  EnvelopeHeader h = Header();
  h.expires_at = h.issued_at;
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "invalid lifetime");
  h = Header();
  h.expires_at = h.issued_at - 1;
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "invalid lifetime");
}

TEST_F(EnvelopeTest, ExtremeTimesAreRejectedWithoutOverflow) {
  EnvelopeHeader h = Header();
  h.issued_at = std::numeric_limits<int64_t>::min();
  h.expires_at = std::numeric_limits<int64_t>::max();
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "lifetime too long");
  h = Header();
  h.issued_at = std::numeric_limits<int64_t>::max();
  h.expires_at = std::numeric_limits<int64_t>::max();
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "not yet valid");
  h = Header();
  h.issued_at = std::numeric_limits<int64_t>::min();
  h.expires_at = std::numeric_limits<int64_t>::min();
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "expired");
}

// ---- replay ----

TEST_F(EnvelopeTest, RejectsReplayedId) {
  const SealedEnvelope env = SealOk(Header());
  MemoryGuard guard;
  ASSERT_TRUE(OpenStatus(env, Expect(), &guard).ok());
  ExpectRejected(OpenStatus(env, Expect(), &guard), "replayed");
  // The same id with a fresh, higher sequence is still a replay.
  EnvelopeHeader h = Header();
  h.id = EnvelopeHeader::Decode(common::AsString(env.header))->id;
  ExpectRejected(OpenStatus(SealOk(h), Expect(), &guard), "replayed");
}

TEST_F(EnvelopeTest, RejectsSequenceNotIncreasing) {
  MemoryGuard guard;
  EnvelopeHeader h = Header();
  h.sequence = 10;
  ASSERT_TRUE(OpenStatus(SealOk(h), Expect(), &guard).ok());
  h = Header();
  h.sequence = 10;
  ExpectRejected(OpenStatus(SealOk(h), Expect(), &guard), "replayed");
  h = Header();
  h.sequence = 9;
  ExpectRejected(OpenStatus(SealOk(h), Expect(), &guard), "replayed");
  h = Header();
  h.sequence = 11;
  EXPECT_TRUE(OpenStatus(SealOk(h), Expect(), &guard).ok());
}

TEST_F(EnvelopeTest, GuardUnavailableFailsClosedWithUnavailable) {
  MemoryGuard guard;
  guard.unavailable = true;
  auto r = Open(SealOk(Header()), Expect(), guard);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(guard.calls.size(), 1u);
}

TEST_F(EnvelopeTest, GuardIsToldSenderIdSequenceAndKeepUntil) {
  const EnvelopeHeader h = Header();
  MemoryGuard guard;
  ASSERT_TRUE(OpenStatus(SealOk(h), Expect(), &guard).ok());
  ASSERT_EQ(guard.calls.size(), 1u);
  EXPECT_EQ(guard.calls[0].sender, "agency-a");
  EXPECT_EQ(guard.calls[0].id, h.id);
  EXPECT_EQ(guard.calls[0].sequence, h.sequence);
  EXPECT_EQ(guard.calls[0].keep_until, h.expires_at + kMaxClockSkewSeconds);
}

TEST_F(EnvelopeTest, GuardIsNotConsultedWhenAnEarlierCheckFails) {
  MemoryGuard guard;
  OpenExpectations wrong_recipient = Expect();
  wrong_recipient.self_id = "elsewhere";
  EXPECT_FALSE(OpenStatus(SealOk(Header()), wrong_recipient, &guard).ok());
  EXPECT_FALSE(OpenStatus(SealOk(Header()), Expect(kNow + 3600), &guard).ok());
  OpenExpectations wrong_key = Expect();
  wrong_key.sender_key = &mallory_.Public();
  EXPECT_FALSE(OpenStatus(SealOk(Header()), wrong_key, &guard).ok());
  EXPECT_TRUE(guard.calls.empty());
}

// ---- decryption and header content after a valid signature ----

TEST_F(EnvelopeTest, RejectsSignedButUndecryptableBody) {
  SealedEnvelope env = SealOk(Header());
  env.body[0] ^= 1;
  Resign(env, alice_);
  ExpectRejected(OpenStatus(env, Expect()), "decryption failed");
}

TEST_F(EnvelopeTest, RejectsBodyEncryptedWithOtherAssociatedData) {
  const std::string header = Header().Encode();
  const SealedEnvelope env =
      SpecSeal(header, AsBytes("x"), alice_, hub_.Public(), std::string_view("other"));
  ExpectRejected(OpenStatus(env, Expect()), "decryption failed");
}

TEST_F(EnvelopeTest, RejectsContentKeySealedToAnotherKey) {
  const SealedEnvelope env = SpecSeal(Header().Encode(), AsBytes("x"), alice_, other_enc_.Public());
  ExpectRejected(OpenStatus(env, Expect()), "decryption failed");
}

TEST_F(EnvelopeTest, RejectsSignedHeaderThatIsNotAValidHeader) {
  ExpectRejected(OpenStatus(SpecSeal("not json", AsBytes("x"), alice_, hub_.Public()), Expect()),
                 "malformed envelope");
  std::string extra = Header().Encode();
  extra.insert(1, "\"aaa\":1,");
  ExpectRejected(OpenStatus(SpecSeal(extra, AsBytes("x"), alice_, hub_.Public()), Expect()),
                 "malformed envelope");
  EnvelopeHeader h = Header();
  h.type = "";
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "malformed envelope");
}

TEST_F(EnvelopeTest, RejectsUnsupportedVersion) {
  EnvelopeHeader h = Header();
  h.version = 2;
  ExpectRejected(OpenStatus(SealOk(h), Expect()), "unsupported version");
}

TEST_F(EnvelopeTest, MissingExpectedKeysIsAnError) {
  const SealedEnvelope env = SealOk(Header());
  OpenExpectations e = Expect();
  e.sender_key = nullptr;
  EXPECT_FALSE(OpenStatus(env, e).ok());
  e = Expect();
  e.self_key = nullptr;
  EXPECT_FALSE(OpenStatus(env, e).ok());
}

TEST_F(EnvelopeTest, ReasonsHoldNoHeaderOrBodyContent) {
  EnvelopeHeader h = Header();
  h.check_ref = "Jane Doe 2011-04-01";
  h.sender = "agency-b";
  Status s = OpenStatus(SealOk(h, "Jane Doe"), Expect());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.ToString().find("Jane"), std::string::npos);
  EXPECT_EQ(s.ToString().find("agency-b"), std::string::npos);
}

// ---- Seal preconditions ----

TEST_F(EnvelopeTest, SealRefusesInconsistentOrInvalidHeaders) {
  auto seal = [&](const EnvelopeHeader& h) {
    return Seal(h, AsBytes("x"), alice_, hub_.Public(), random_).status();
  };
  EnvelopeHeader h = Header();
  h.sender_key = mallory_.Public().Fingerprint();
  EXPECT_EQ(seal(h).code(), StatusCode::kInvalidArgument);
  h = Header();
  h.recipient_key = other_enc_.Public().Fingerprint();
  EXPECT_EQ(seal(h).code(), StatusCode::kInvalidArgument);
  h = Header();
  h.id = "short";
  EXPECT_EQ(seal(h).code(), StatusCode::kInvalidArgument);
  h = Header();
  h.purpose = "bad \xC3 utf-8";
  EXPECT_EQ(seal(h).code(), StatusCode::kInvalidArgument);
  h = Header();
  h.check_ref = std::string(kMaxHeaderBytes, 'x');
  EXPECT_EQ(seal(h).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(seal(Header()).ok());
}

TEST_F(EnvelopeTest, SealUsesFreshKeyAndNonceEachTime) {
  const EnvelopeHeader h = Header();
  const SealedEnvelope a = SealOk(h, "same");
  const SealedEnvelope b = SealOk(h, "same");
  EXPECT_EQ(a.header, b.header);
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_NE(a.key, b.key);
  EXPECT_NE(a.body, b.body);
}

// ---- JSON form ----

TEST_F(EnvelopeTest, ToJsonHasExactlyTheFiveBase64Fields) {
  const SealedEnvelope env = SealOk(Header());
  const json j = env.ToJson();
  ASSERT_EQ(j.size(), 5u);
  EXPECT_EQ(j.at("header"), Base64Encode(env.header));
  EXPECT_EQ(j.at("key"), Base64Encode(env.key));
  EXPECT_EQ(j.at("nonce"), Base64Encode(env.nonce));
  EXPECT_EQ(j.at("body"), Base64Encode(env.body));
  EXPECT_EQ(j.at("sig"), Base64Encode(env.sig));
}

TEST_F(EnvelopeTest, FromJsonRejectsMissingWrongTypeOrBadBase64Fields) {
  const json good = SealOk(Header()).ToJson();
  ASSERT_TRUE(SealedEnvelope::FromJson(good).ok());
  for (const char* f : {"header", "key", "nonce", "body", "sig"}) {
    json missing = good;
    missing.erase(f);
    EXPECT_EQ(SealedEnvelope::FromJson(missing).status().code(), StatusCode::kInvalidArgument) << f;
    for (const json& bad :
         {json(1), json(nullptr), json::array(), json("!!!!"),
          json(good.at(f).get<std::string>() + "="), json(good.at(f).get<std::string>() + "A"),
          json(" " + good.at(f).get<std::string>())}) {
      json j = good;
      j[f] = bad;
      EXPECT_EQ(SealedEnvelope::FromJson(j).status().code(), StatusCode::kInvalidArgument)
          << f << "=" << bad.dump();
    }
  }
  json extra = good;
  extra["extra"] = "";
  EXPECT_EQ(SealedEnvelope::FromJson(extra).status().code(), StatusCode::kInvalidArgument);
  for (const json& not_object : {json::array(), json("x"), json(nullptr), json::object()}) {
    EXPECT_EQ(SealedEnvelope::FromJson(not_object).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(EnvelopeTest, FromJsonRejectsWrongSizes) {
  const json good = SealOk(Header()).ToJson();
  struct Case {
    const char* field;
    size_t size;
  };
  for (const Case c :
       {Case{"nonce", 23}, Case{"nonce", 25}, Case{"nonce", 0}, Case{"sig", 63}, Case{"sig", 65},
        Case{"sig", 0}, Case{"key", 79}, Case{"key", 81}, Case{"key", 32}, Case{"header", 0},
        Case{"header", kMaxHeaderBytes + 1}, Case{"body", 15}, Case{"body", 0}}) {
    json j = good;
    j[c.field] = Base64Encode(Bytes(c.size, 0x41));
    EXPECT_EQ(SealedEnvelope::FromJson(j).status().code(), StatusCode::kInvalidArgument)
        << c.field << " " << c.size;
  }
  // Control: the boundary sizes that are allowed.
  json j = good;
  j["body"] = Base64Encode(Bytes(16, 0));
  EXPECT_TRUE(SealedEnvelope::FromJson(j).ok());
  j["header"] = Base64Encode(Bytes(kMaxHeaderBytes, '{'));
  EXPECT_TRUE(SealedEnvelope::FromJson(j).ok());
}

}  // namespace
}  // namespace mash::crypto
