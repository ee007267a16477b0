#include "mash/policy/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "mash/common/clock.h"
#include "support/temp_dir.h"

namespace mash::policy {
namespace {

std::string Source(int level) {
  return "kind = \"disclosure-policy\"\nid = \"d\"\nowner = \"DPO\"\nreview_date = 2027-01-01\n"
         "agency_type = \"police\"\n[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = " +
         std::to_string(level) + "\n";
}

crypto::SigningKey NewKey() {
  common::InitCrypto();  // before the fixture's keys are made
  return crypto::SigningKey::Generate();
}

class StoreTest : public ::testing::Test {
 protected:
  Bundle Signed(int level) {
    auto b = MakeBundle(Source(level), "d.toml");
    EXPECT_TRUE(b.ok());
    SignBundle(*b, key_);
    return *b;
  }
  crypto::SigningKey key_ = NewKey();
  testing::TempDir dir_;
};

TEST_F(StoreTest, KeepsEveryVersionAndAnswersWhichWasInForce) {
  auto store = PolicyStore::Open(dir_ / "store", true);
  ASSERT_TRUE(store.ok());
  const Bundle v1 = Signed(1), v2 = Signed(2);
  ASSERT_TRUE(store->Publish(v1, PublishMode::kEnforce, 1000, {key_.Public()}).ok());
  ASSERT_TRUE(store->Publish(v2, PublishMode::kShadow, 2000, {key_.Public()}).ok());
  EXPECT_EQ(store->Enforced(), v1.version);
  EXPECT_EQ(store->Shadow(), v2.version);
  ASSERT_TRUE(store->Publish(v2, PublishMode::kEnforce, 3000, {key_.Public()}).ok());
  EXPECT_EQ(store->Enforced(), v2.version);
  EXPECT_FALSE(store->Shadow().has_value());

  auto history = store->History();
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[2].seq, 3);
  EXPECT_EQ((*history)[2].signers.at(0), key_.Public().Fingerprint());

  EXPECT_EQ(store->VersionAt(999).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store->VersionAt(1000), v1.version);
  EXPECT_EQ(*store->VersionAt(2500), v1.version);  // a shadow does not decide
  EXPECT_EQ(*store->VersionAt(3000), v2.version);
  auto old = store->Load(v1.version, {key_.Public()});
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->policy.rules[0].max_level, 1);
}

TEST_F(StoreTest, RefusesUnsignedWrongPolicyAndTimeGoingBack) {
  auto store = PolicyStore::Open(dir_ / "store", true);
  ASSERT_TRUE(store.ok());
  auto unsigned_bundle = MakeBundle(Source(1), "d.toml");
  ASSERT_TRUE(unsigned_bundle.ok());
  EXPECT_EQ(
      store->Publish(*unsigned_bundle, PublishMode::kEnforce, 1, {key_.Public()}).status().code(),
      StatusCode::kUnauthenticated);
  ASSERT_TRUE(store->Publish(Signed(1), PublishMode::kEnforce, 10, {key_.Public()}).ok());
  EXPECT_EQ(store->Publish(Signed(2), PublishMode::kEnforce, 5, {key_.Public()}).status().code(),
            StatusCode::kFailedPrecondition);
  std::string other = Source(1);
  other.replace(other.find("id = \"d\""), 8, "id = \"e\"");
  auto b = MakeBundle(other, "e.toml");
  ASSERT_TRUE(b.ok());
  SignBundle(*b, key_);
  EXPECT_EQ(store->Publish(*b, PublishMode::kEnforce, 20, {key_.Public()}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, DetectsATamperedStoredVersion) {
  auto store = PolicyStore::Open(dir_ / "store", true);
  ASSERT_TRUE(store.ok());
  const Bundle v1 = Signed(1);
  ASSERT_TRUE(store->Publish(v1, PublishMode::kEnforce, 1, {key_.Public()}).ok());
  Bundle tampered = v1;
  tampered.source.replace(tampered.source.find("max_level = 1"), 13, "max_level = 3");
  tampered.version = "sha256:" + std::string(64, '0');
  const auto file = dir_ / "store" / "versions" / (v1.version.substr(7) + ".json");
  ASSERT_TRUE(WriteFileAtomically(file, tampered.ToJson()).ok());
  EXPECT_FALSE(store->Load(v1.version, {key_.Public()}).ok());
}

TEST_F(StoreTest, ReportsAMalformedHistory) {
  auto store = PolicyStore::Open(dir_ / "store", true);
  ASSERT_TRUE(store.ok());
  std::ofstream(dir_ / "store" / "history.jsonl") << "{\"seq\":1}\n";
  EXPECT_EQ(store->History().status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(PolicyStore::Open(dir_ / "absent", false).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace mash::policy
