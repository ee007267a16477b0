#include "mash/crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mash/common/clock.h"
#include "mash/common/encoding.h"

namespace mash::crypto {
namespace {

namespace fs = std::filesystem;
using common::Base64Encode;
using common::HexDecode;
using common::HexEncode;

class SodiumEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { common::InitCrypto(); }
};
[[maybe_unused]] ::testing::Environment* const kSodiumEnv =
    ::testing::AddGlobalTestEnvironment(new SodiumEnvironment);

Bytes Hex(std::string_view s) {
  auto b = HexDecode(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

Bytes ToBytes(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

// ---- hashes and fingerprints ----

TEST(Sha256Test, MatchesFipsVector) {
  EXPECT_EQ(HexEncode(Sha256(common::AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FingerprintTest, IsSha256PrefixAndLowerCaseHexOfPublicKey) {
  const std::array<uint8_t, 32> zeros{};
  EXPECT_EQ(Fingerprint(zeros),
            "sha256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
  const SigningKey k = SigningKey::Generate();
  const std::string fp = k.Public().Fingerprint();
  ASSERT_EQ(fp.size(), 7u + 64u);
  EXPECT_EQ(fp.substr(0, 7), "sha256:");
  for (char c : fp.substr(7)) EXPECT_TRUE(std::isdigit(c) || (c >= 'a' && c <= 'f')) << fp;
  EXPECT_NE(fp, SigningKey::Generate().Public().Fingerprint());
}

// ---- signing ----

// RFC 8032 §7.1, test 1.
constexpr const char* kRfc8032Seed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kRfc8032Public =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kRfc8032EmptySig =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
    "b46bd25bf5f0595bbe24655141438e7a100b";

TEST(SigningKeyTest, FromSeedMatchesRfc8032) {
  auto key = SigningKey::FromSeed(Hex(kRfc8032Seed));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(HexEncode(key->Public().bytes), kRfc8032Public);
  EXPECT_EQ(HexEncode(key->Seed()), kRfc8032Seed);
  EXPECT_EQ(HexEncode(key->Sign({})), kRfc8032EmptySig);
}

TEST(SigningKeyTest, FromSeedRejectsWrongSize) {
  for (size_t n : {0u, 31u, 33u, 64u}) {
    auto key = SigningKey::FromSeed(Bytes(n, 1));
    ASSERT_FALSE(key.ok()) << n;
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(SigningKeyTest, SignatureVerifiesAndTamperingFails) {
  const SigningKey key = SigningKey::Generate();
  const Bytes msg = {'h', 'e', 'l', 'l', 'o'};
  const auto sig = key.Sign(msg);
  EXPECT_TRUE(VerifySignature(key.Public(), msg, sig).ok());

  Bytes other = msg;
  other[0] ^= 1;
  Status s = VerifySignature(key.Public(), other, sig);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "signature invalid");

  auto bad_sig = sig;
  bad_sig[10] ^= 4;
  EXPECT_EQ(VerifySignature(key.Public(), msg, bad_sig).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(SigningKey::Generate().Public(), msg, sig).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(key.Public(), msg, std::span(sig).first(63)).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(key.Public(), msg, {}).code(), StatusCode::kUnauthenticated);
}

// ---- encryption ----

TEST(EncryptionKeyTest, FromSecretMatchesRfc7748) {
  auto key = EncryptionKey::FromSecret(
      Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(HexEncode(key->Public().bytes),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST(EncryptionKeyTest, FromSecretRejectsWrongSize) {
  auto key = EncryptionKey::FromSecret(Bytes(31, 1));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
}

TEST(EncryptionKeyTest, SealToThenUnsealRoundTrips) {
  const EncryptionKey key = EncryptionKey::Generate();
  const Bytes msg = {1, 2, 3, 4, 5, 6};
  const Bytes sealed = SealTo(key.Public(), msg);
  EXPECT_EQ(sealed.size(), msg.size() + 48);
  auto opened = key.Unseal(sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(ToBytes(opened->span()), msg);

  auto reloaded = EncryptionKey::FromSecret(key.Secret());
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->Public().bytes, key.Public().bytes);
  EXPECT_TRUE(reloaded->Unseal(sealed).ok());
}

TEST(EncryptionKeyTest, UnsealFailsForOtherKeyTamperingAndTruncation) {
  const EncryptionKey key = EncryptionKey::Generate();
  const Bytes sealed = SealTo(key.Public(), Bytes(32, 9));
  EXPECT_EQ(EncryptionKey::Generate().Unseal(sealed).status().code(), StatusCode::kUnauthenticated);
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes t = sealed;
    t[i] ^= 0x01;
    EXPECT_EQ(key.Unseal(t).status().code(), StatusCode::kUnauthenticated) << i;
  }
  EXPECT_EQ(key.Unseal(std::span(sealed).first(sealed.size() - 1)).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(key.Unseal(std::span(sealed).first(10)).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(key.Unseal({}).status().code(), StatusCode::kUnauthenticated);
}

TEST(SymmetricKeyTest, Is32RandomBytes) {
  SecureBuffer a = GenerateSymmetricKey();
  SecureBuffer b = GenerateSymmetricKey();
  EXPECT_EQ(a.size(), kSymmetricKeySize);
  EXPECT_FALSE(ConstantTimeEqual(a.span(), b.span()));
}

// ---- key files ----

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "mash-keys-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // A permissive umask must not make secret files readable.
    old_umask_ = ::umask(0);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static mode_t Mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  static void WriteRaw(const fs::path& p, const std::string& text, mode_t mode) {
    {
      std::ofstream f(p, std::ios::binary | std::ios::trunc);
      f << text;
    }
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  }
  static std::string ReadRaw(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  size_t EntryCount() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }

  fs::path dir_;
  mode_t old_umask_ = 022;
  const Bytes key_bytes_ = Bytes(32, 0x5A);
};

TEST_F(KeyFileTest, LabelsNameTheKinds) {
  EXPECT_EQ(KeyFileLabel(KeyKind::kSigningSecret), "MASH-ED25519-SECRET-V1");
  EXPECT_EQ(KeyFileLabel(KeyKind::kSigningPublic), "MASH-ED25519-PUBLIC-V1");
  EXPECT_EQ(KeyFileLabel(KeyKind::kEncryptionSecret), "MASH-X25519-SECRET-V1");
  EXPECT_EQ(KeyFileLabel(KeyKind::kEncryptionPublic), "MASH-X25519-PUBLIC-V1");
  EXPECT_EQ(KeyFileLabel(KeyKind::kPseudonymKey), "MASH-PSEUDONYM-KEY-V1");
  EXPECT_EQ(KeyFileLabel(KeyKind::kDatabaseKey), "MASH-DATABASE-KEY-V1");
  EXPECT_TRUE(IsSecret(KeyKind::kSigningSecret));
  EXPECT_TRUE(IsSecret(KeyKind::kEncryptionSecret));
  EXPECT_TRUE(IsSecret(KeyKind::kPseudonymKey));
  EXPECT_TRUE(IsSecret(KeyKind::kDatabaseKey));
  EXPECT_FALSE(IsSecret(KeyKind::kSigningPublic));
  EXPECT_FALSE(IsSecret(KeyKind::kEncryptionPublic));
}

TEST_F(KeyFileTest, RoundTripsEveryKind) {
  for (KeyKind kind : {KeyKind::kSigningSecret, KeyKind::kSigningPublic, KeyKind::kEncryptionSecret,
                       KeyKind::kEncryptionPublic, KeyKind::kPseudonymKey, KeyKind::kDatabaseKey}) {
    const fs::path p = dir_ / std::string(KeyFileLabel(kind));
    Bytes bytes(32);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
    ASSERT_TRUE(WriteKeyFile(p, kind, bytes).ok()) << KeyFileLabel(kind);
    auto read = ReadKeyFile(p, kind);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(ToBytes(read->span()), bytes);
  }
}

TEST_F(KeyFileTest, WritesTheDocumentedTextFormat) {
  const fs::path p = dir_ / "db.key";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kDatabaseKey, key_bytes_).ok());
  EXPECT_EQ(ReadRaw(p), "MASH-DATABASE-KEY-V1\n" + Base64Encode(key_bytes_) + "\n");
}

TEST_F(KeyFileTest, SecretFilesAreCreated0600EvenWithUmaskZero) {
  const fs::path p = dir_ / "sign.key";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kSigningSecret, key_bytes_).ok());
  EXPECT_EQ(Mode(p), 0600u);
  // Nothing but the key file is left behind (no temporary files).
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(KeyFileTest, PublicFilesAreReadableByOthers) {
  ::umask(022);
  const fs::path p = dir_ / "sign.pub";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kSigningPublic, key_bytes_).ok());
  EXPECT_EQ(Mode(p), 0644u);
}

TEST_F(KeyFileTest, RefusesSecretFilesAccessibleByGroupOrOthers) {
  const fs::path p = dir_ / "enc.key";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kEncryptionSecret, key_bytes_).ok());
  for (mode_t mode : {0640, 0604, 0644, 0620, 0602, 0610, 0601, 0660, 0666}) {
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
    auto r = ReadKeyFile(p, KeyKind::kEncryptionSecret);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos);
  }
  ASSERT_EQ(::chmod(p.c_str(), 0400), 0);
  EXPECT_TRUE(ReadKeyFile(p, KeyKind::kEncryptionSecret).ok());
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
  EXPECT_TRUE(ReadKeyFile(p, KeyKind::kEncryptionSecret).ok());
}

TEST_F(KeyFileTest, PublicFilesMayBeWorldReadable) {
  const fs::path p = dir_ / "enc.pub";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kEncryptionPublic, key_bytes_).ok());
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  EXPECT_TRUE(ReadKeyFile(p, KeyKind::kEncryptionPublic).ok());
}

TEST_F(KeyFileTest, RefusesSymlinkEvenToAGoodFile) {
  const fs::path target = dir_ / "real.key";
  ASSERT_TRUE(WriteKeyFile(target, KeyKind::kPseudonymKey, key_bytes_).ok());
  const fs::path link = dir_ / "link.key";
  fs::create_symlink(target, link);
  auto r = ReadKeyFile(link, KeyKind::kPseudonymKey);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ReadKeyFile(target, KeyKind::kPseudonymKey).ok());
}

TEST_F(KeyFileTest, RefusesDirectoriesAndFifos) {
  const fs::path d = dir_ / "dir.key";
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  EXPECT_EQ(ReadKeyFile(d, KeyKind::kDatabaseKey).status().code(), StatusCode::kFailedPrecondition);
  const fs::path fifo = dir_ / "fifo.key";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ReadKeyFile(fifo, KeyKind::kDatabaseKey).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadKeyFile(dir_ / "absent.key", KeyKind::kDatabaseKey).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(LoadSigningKey(dir_ / "absent.key").status().code(), StatusCode::kNotFound);
}

TEST_F(KeyFileTest, RefusesWrongLabel) {
  const fs::path p = dir_ / "sign.key";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kSigningSecret, key_bytes_).ok());
  auto r = ReadKeyFile(p, KeyKind::kEncryptionSecret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("label"), std::string::npos);
  // A label that only starts with the right one is still wrong.
  WriteRaw(p, "MASH-ED25519-SECRET-V1X\n" + Base64Encode(key_bytes_) + "\n", 0600);
  EXPECT_EQ(ReadKeyFile(p, KeyKind::kSigningSecret).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyFileTest, RefusesWrongLengthWithoutQuotingTheKey) {
  const fs::path p = dir_ / "db.key";
  for (size_t n : {0u, 16u, 31u, 33u, 64u}) {
    const std::string b64 = Base64Encode(Bytes(n, 0x77));
    WriteRaw(p, "MASH-DATABASE-KEY-V1\n" + b64 + "\n", 0600);
    auto r = ReadKeyFile(p, KeyKind::kDatabaseKey);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << n;
    if (!b64.empty()) {
      EXPECT_EQ(r.status().message().find(b64), std::string::npos);
    }
  }
}

TEST_F(KeyFileTest, RefusesMalformedText) {
  const fs::path p = dir_ / "db.key";
  const std::string b64 = Base64Encode(key_bytes_);
  const std::string cases[] = {
      "",
      "MASH-DATABASE-KEY-V1",
      "MASH-DATABASE-KEY-V1\n",
      "MASH-DATABASE-KEY-V1\n" + b64 + "\n\n",
      "MASH-DATABASE-KEY-V1\n" + b64 + "\nextra\n",
      "MASH-DATABASE-KEY-V1\n" + b64 + "!\n",
      "MASH-DATABASE-KEY-V1\n " + b64 + "\n",
      "MASH-DATABASE-KEY-V1\r\n" + b64 + "\n",
      "MASH-DATABASE-KEY-V1\n" + b64.substr(0, b64.size() - 1) + "\n",
      "MASH-DATABASE-KEY-V1\n" + std::string(2000, 'A') + "\n",
  };
  for (const auto& text : cases) {
    WriteRaw(p, text, 0600);
    auto r = ReadKeyFile(p, KeyKind::kDatabaseKey);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  }
  // Control: the same helper with a well-formed text, with or without the final newline.
  WriteRaw(p, "MASH-DATABASE-KEY-V1\n" + b64 + "\n", 0600);
  EXPECT_TRUE(ReadKeyFile(p, KeyKind::kDatabaseKey).ok());
  WriteRaw(p, "MASH-DATABASE-KEY-V1\n" + b64, 0600);
  EXPECT_TRUE(ReadKeyFile(p, KeyKind::kDatabaseKey).ok());
}

TEST_F(KeyFileTest, WriteRefusesWrongKeySize) {
  EXPECT_EQ(WriteKeyFile(dir_ / "x.key", KeyKind::kDatabaseKey, Bytes(31, 1)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EntryCount(), 0u);
}

TEST_F(KeyFileTest, AlreadyExistsWithoutOverwriteAndFileUnchanged) {
  const fs::path p = dir_ / "db.key";
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kDatabaseKey, key_bytes_).ok());
  const std::string before = ReadRaw(p);
  const Bytes other(32, 0x11);
  Status s = WriteKeyFile(p, KeyKind::kDatabaseKey, other);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadRaw(p), before);
  EXPECT_EQ(EntryCount(), 1u);

  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kDatabaseKey, other, /*overwrite=*/true).ok());
  auto r = ReadKeyFile(p, KeyKind::kDatabaseKey);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ToBytes(r->span()), other);
  EXPECT_EQ(Mode(p), 0600u);
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(KeyFileTest, OverwriteFixesLooseModeOfExistingFile) {
  const fs::path p = dir_ / "db.key";
  WriteRaw(p, "junk", 0644);
  ASSERT_TRUE(WriteKeyFile(p, KeyKind::kDatabaseKey, key_bytes_, /*overwrite=*/true).ok());
  EXPECT_EQ(Mode(p), 0600u);
}

TEST_F(KeyFileTest, WriteIntoMissingDirectoryIsUnavailable) {
  EXPECT_EQ(WriteKeyFile(dir_ / "nope" / "db.key", KeyKind::kDatabaseKey, key_bytes_).code(),
            StatusCode::kUnavailable);
}

TEST_F(KeyFileTest, LoadersRebuildTheKeys) {
  const SigningKey sign = SigningKey::Generate();
  const EncryptionKey enc = EncryptionKey::Generate();
  ASSERT_TRUE(WriteKeyFile(dir_ / "s.key", KeyKind::kSigningSecret, sign.Seed()).ok());
  ASSERT_TRUE(WriteKeyFile(dir_ / "s.pub", KeyKind::kSigningPublic, sign.Public().bytes).ok());
  ASSERT_TRUE(WriteKeyFile(dir_ / "e.key", KeyKind::kEncryptionSecret, enc.Secret()).ok());
  ASSERT_TRUE(WriteKeyFile(dir_ / "e.pub", KeyKind::kEncryptionPublic, enc.Public().bytes).ok());

  auto s = LoadSigningKey(dir_ / "s.key");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Public().bytes, sign.Public().bytes);
  auto sp = LoadSigningPublicKey(dir_ / "s.pub");
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->bytes, sign.Public().bytes);
  auto e = LoadEncryptionKey(dir_ / "e.key");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->Public().bytes, enc.Public().bytes);
  auto ep = LoadEncryptionPublicKey(dir_ / "e.pub");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->bytes, enc.Public().bytes);

  // Kinds are not interchangeable.
  EXPECT_EQ(LoadSigningKey(dir_ / "e.key").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadEncryptionPublicKey(dir_ / "s.pub").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyFileTest, GenerateKeyPairFilesMakesFourLoadableFiles) {
  ASSERT_TRUE(GenerateKeyPairFiles(dir_, "agency-a").ok());
  EXPECT_EQ(Mode(dir_ / "agency-a.sign.key"), 0600u);
  EXPECT_EQ(Mode(dir_ / "agency-a.enc.key"), 0600u);
  EXPECT_EQ(EntryCount(), 4u);

  auto s = LoadSigningKey(dir_ / "agency-a.sign.key");
  auto sp = LoadSigningPublicKey(dir_ / "agency-a.sign.pub");
  auto e = LoadEncryptionKey(dir_ / "agency-a.enc.key");
  auto ep = LoadEncryptionPublicKey(dir_ / "agency-a.enc.pub");
  ASSERT_TRUE(s.ok() && sp.ok() && e.ok() && ep.ok());
  EXPECT_EQ(s->Public().bytes, sp->bytes);
  EXPECT_EQ(e->Public().bytes, ep->bytes);

  const std::string before = ReadRaw(dir_ / "agency-a.sign.key");
  EXPECT_EQ(GenerateKeyPairFiles(dir_, "agency-a").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadRaw(dir_ / "agency-a.sign.key"), before);
  ASSERT_TRUE(GenerateKeyPairFiles(dir_, "agency-a", /*overwrite=*/true).ok());
  EXPECT_NE(ReadRaw(dir_ / "agency-a.sign.key"), before);
  EXPECT_EQ(EntryCount(), 4u);
}

TEST_F(KeyFileTest, GenerateKeyPairFilesRefusesPathLikeNames) {
  for (const char* name : {"", ".", "..", "a/b"}) {
    EXPECT_EQ(GenerateKeyPairFiles(dir_, name).code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(EntryCount(), 0u);
}

}  // namespace
}  // namespace mash::crypto
