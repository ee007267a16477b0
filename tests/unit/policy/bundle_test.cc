#include "mash/policy/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "mash/common/clock.h"
#include "support/temp_dir.h"

namespace mash::policy {
namespace {

using ::testing::HasSubstr;

constexpr char kSource[] = R"(# comment
kind = "disclosure-policy"
id = "d"
owner = "DPO"
review_date = 2027-01-01
agency_type = "police"
[[rule]]
id = "p"
effect = "permit"
max_level = 2
)";

crypto::SigningKey NewKey() {
  common::InitCrypto();  // before the fixture's keys are made
  return crypto::SigningKey::Generate();
}

class BundleTest : public ::testing::Test {
 protected:
  crypto::SigningKey dpo_ = NewKey();
  crypto::SigningKey other_ = NewKey();
};

TEST_F(BundleTest, SignedBundleVerifiesWithTheTrustedKey) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok()) << b.status().message();
  SignBundle(*b, dpo_);
  auto round = Bundle::FromJson(b->ToJson());
  ASSERT_TRUE(round.ok()) << round.status().message();
  auto loaded = VerifyBundle(*round, {dpo_.Public()});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->policy.version, b->version);
  ASSERT_EQ(loaded->signers.size(), 1u);
  EXPECT_EQ(loaded->signers[0], dpo_.Public().Fingerprint());
}

TEST_F(BundleTest, RefusesATamperedSource) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, dpo_);
  Bundle semantic = *b;
  semantic.source.replace(semantic.source.find("max_level = 2"), 13, "max_level = 3");
  auto r = VerifyBundle(semantic, {dpo_.Public()});
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("tampered"));
  // A change the version does not see (a comment) still breaks the signature.
  Bundle comment = *b;
  comment.source.replace(0, 9, "# altered");
  r = VerifyBundle(comment, {dpo_.Public()});
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr("does not verify"));
  // So does a flipped signature bit.
  Bundle flipped = *b;
  flipped.signatures[0].sig[5] = flipped.signatures[0].sig[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(VerifyBundle(flipped, {dpo_.Public()}).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(BundleTest, RefusesAStrippedSignature) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, dpo_);
  b->signatures.clear();
  auto r = VerifyBundle(*b, {dpo_.Public()});
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr("unsigned"));
}

TEST_F(BundleTest, RefusesTheWrongKey) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, other_);
  auto r = VerifyBundle(*b, {dpo_.Public()});
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr("not signed by any trusted key"));
  // A forged entry naming the trusted key with another key's signature.
  b->signatures[0].key = dpo_.Public().Fingerprint();
  EXPECT_EQ(VerifyBundle(*b, {dpo_.Public()}).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(BundleTest, UnsignedIsAcceptedOnlyWithoutKeys) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(VerifyBundle(*b, {}).ok());
  EXPECT_EQ(VerifyBundle(*b, {dpo_.Public()}).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(BundleTest, LoadPolicyRefusesTomlSourceOnceKeysAreConfigured) {
  testing::TempDir dir;
  const auto path = dir / "d.toml";
  std::ofstream(path) << kSource;
  EXPECT_TRUE(LoadPolicy(path, {}).ok());
  auto r = LoadPolicy(path, {dpo_.Public()});
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);

  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, dpo_);
  ASSERT_TRUE(WriteFileAtomically(dir / "d.bundle.json", b->ToJson()).ok());
  auto loaded = LoadPolicy(dir / "d.bundle.json", {dpo_.Public()});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(LoadPolicy(dir / "missing.json", {}).status().code(), StatusCode::kNotFound);
}

TEST_F(BundleTest, MalformedBundlesAreRefused) {
  EXPECT_FALSE(Bundle::FromJson("{").ok());
  EXPECT_FALSE(Bundle::FromJson(R"({"format":"other"})").ok());
  EXPECT_FALSE(Bundle::FromJson(
                   R"({"format":"mash-policy-bundle-v1","name":"x","source":"","version":"v",
                      "signatures":[{"alg":"rsa","key":"k","sig":"s"}]})")
                   .ok());
}

TEST_F(BundleTest, SigningTwiceKeepsOneSignaturePerKey) {
  auto b = MakeBundle(kSource, "d.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, dpo_);
  SignBundle(*b, dpo_);
  SignBundle(*b, other_);
  EXPECT_EQ(b->signatures.size(), 2u);
  auto loaded = VerifyBundle(*b, {dpo_.Public(), other_.Public()});
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->signers.size(), 2u);
}

}  // namespace
}  // namespace mash::policy
