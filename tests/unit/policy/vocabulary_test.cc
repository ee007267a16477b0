#include "mash/policy/vocabulary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mash::policy {
namespace {

nlohmann::json ReadJson(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(VocabularyTest, BuiltinHasTheUrgencyDeadlinesAndSixAgencyTypes) {
  const Vocabulary& v = Vocabulary::Builtin();
  const auto& u = v.Terms(Dimension::kUrgency);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[v.IndexOf(Dimension::kUrgency, "red")].deadline_hours, 4);
  EXPECT_EQ(u[v.IndexOf(Dimension::kUrgency, "amber")].deadline_hours, 24);
  EXPECT_EQ(u[v.IndexOf(Dimension::kUrgency, "green")].deadline_hours, 72);
  EXPECT_EQ(v.agency_types().size(), 6u);
  EXPECT_EQ(v.Terms(Dimension::kOverrideGround).size(), 4u);
  EXPECT_EQ(v.LevelName(2), "relevant-summary");
  EXPECT_GE(v.IndexOf(Dimension::kPurpose, "child-protection-s47"), 0);
  EXPECT_GE(v.IndexOf(Dimension::kLawfulBasis, "uk-gdpr-6-1-e"), 0);
  EXPECT_EQ(v.IndexOf(Dimension::kPurpose, "nosiness"), -1);
}

// The API schema's enums and the vocabulary must not drift apart.
TEST(VocabularyTest, AgreesWithTheCheckRequestSchema) {
  const auto schema =
      ReadJson(std::filesystem::path(MASH_SOURCE_DIR) / "schemas/api/check-request.schema.json");
  ASSERT_TRUE(schema.is_object());
  const auto& consent = schema["properties"]["consent"]["properties"];
  const Vocabulary& v = Vocabulary::Builtin();
  for (const auto& s : consent["state"]["enum"]) {
    EXPECT_GE(v.IndexOf(Dimension::kConsentState, s.get<std::string>()), 0) << s;
  }
  for (const auto& g : consent["override_ground"]["enum"]) {
    EXPECT_GE(v.IndexOf(Dimension::kOverrideGround, g.get<std::string>()), 0) << g;
  }
  for (const auto& u : schema["properties"]["urgency"]["enum"]) {
    EXPECT_GE(v.IndexOf(Dimension::kUrgency, u.get<std::string>()), 0) << u;
  }
}

// Every category in the example records is in the vocabulary, under that agency's type.
TEST(VocabularyTest, CoversTheExampleRecordsCategories) {
  const Vocabulary& v = Vocabulary::Builtin();
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(MASH_SOURCE_DIR) /
                                                           "examples/records")) {
    const std::string type = e.path().stem().string();
    const AgencyType* t = v.FindAgencyType(type);
    ASSERT_NE(t, nullptr) << type;
    const auto doc = ReadJson(e.path());
    for (const auto& rec : doc["records"]) {
      for (auto it = rec["categories"].begin(); it != rec["categories"].end(); ++it) {
        EXPECT_THAT(t->categories, ::testing::Contains(it.key())) << type;
      }
    }
  }
}

TEST(VocabularyTest, RefusesMalformedDocuments) {
  EXPECT_FALSE(Vocabulary::FromJson("[]").ok());
  EXPECT_FALSE(Vocabulary::FromJson(R"({"purposes": []})").ok());
}

TEST(VocabularyTest, KnowsTheObligations) {
  EXPECT_TRUE(IsKnownObligation("custodian_review"));
  EXPECT_TRUE(IsKnownObligation("redact:refuge_address"));
  EXPECT_FALSE(IsKnownObligation("redact:"));
  EXPECT_FALSE(IsKnownObligation("redact:Refuge"));
  EXPECT_FALSE(IsKnownObligation("shred"));
}

}  // namespace
}  // namespace mash::policy
