#include "mash/crypto/pseudonym.h"

#include <gtest/gtest.h>

#include <cctype>
#include <vector>

#include "mash/common/clock.h"

namespace mash::crypto {
namespace {

class SodiumEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { common::InitCrypto(); }
};
[[maybe_unused]] ::testing::Environment* const kSodiumEnv =
    ::testing::AddGlobalTestEnvironment(new SodiumEnvironment);

SecureBuffer KeyOf(uint8_t first) {
  SecureBuffer key(32);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(first + i);
  return key;
}

Pseudonymiser Make(uint8_t first = 0) {
  auto p = Pseudonymiser::Create(KeyOf(first));
  EXPECT_TRUE(p.ok());
  return std::move(p).value();
}

TEST(PseudonymTest, MatchesIndependentHmacVector) {
  // Python: hmac.new(bytes(range(32)), b"nhs_number\x00" + b"9434765919", sha256).hexdigest()
  EXPECT_EQ(Make().Pseudonym("nhs_number", "943 476 5919"),
            "ps1:135ac82cb3618c3780fbf284b934127b5d166afec6417cb5d627d27c44566dee");
  EXPECT_EQ(Make().Pseudonym("name_dob", "  jane\t smith   1990-01-02 "),
            "ps1:87f849b820fff0ea0c92d165153321e720b758e2970d21281f0f968a2dcf1610");
}

TEST(PseudonymTest, IsDeterministicAndWellFormed) {
  const Pseudonymiser p = Make();
  const std::string a = p.Pseudonym("pnc_id", "2001/0012345X");
  EXPECT_EQ(a, p.Pseudonym("pnc_id", "2001/0012345X"));
  EXPECT_EQ(a, Make().Pseudonym("pnc_id", "2001/0012345X"));
  ASSERT_EQ(a.size(), 4u + 64u);
  EXPECT_EQ(a.substr(0, 4), "ps1:");
  for (char c : a.substr(4)) EXPECT_TRUE(std::isdigit(c) || (c >= 'a' && c <= 'f')) << a;
}

TEST(PseudonymTest, NormalisationMakesSpellingsEqual) {
  const Pseudonymiser p = Make();
  const std::string canonical = p.Pseudonym("nhs_number", "9434765919");
  EXPECT_EQ(p.Pseudonym("nhs_number", "943 476 5919"), canonical);
  EXPECT_EQ(p.Pseudonym("nhs_number", "943-476-5919"), canonical);
  EXPECT_EQ(p.Pseudonym("nhs_number", " 943.476.5919 "), canonical);
  EXPECT_EQ(p.Pseudonym("ni_number", "qq 12 34 56 c"), p.Pseudonym("ni_number", "QQ123456C"));
  EXPECT_NE(p.Pseudonym("nhs_number", "9434765918"), canonical);
}

TEST(PseudonymTest, DifferentKindsGiveDifferentPseudonyms) {
  const Pseudonymiser p = Make();
  EXPECT_NE(p.Pseudonym("nhs_number", "9434765919"), p.Pseudonym("upn", "9434765919"));
  EXPECT_NE(p.Pseudonym("pnc_id", "ABC"), p.Pseudonym("ni_number", "ABC"));
  // The separator keeps kind and value apart: ("ab", "C") is not ("a", "BC").
  EXPECT_NE(p.Pseudonym("ab", "C"), p.Pseudonym("a", "BC"));
}

TEST(PseudonymTest, DifferentKeysGiveDifferentPseudonyms) {
  EXPECT_NE(Make(0).Pseudonym("nhs_number", "9434765919"),
            Make(1).Pseudonym("nhs_number", "9434765919"));
}

TEST(PseudonymTest, CreateRejectsWrongKeySize) {
  for (size_t n : {0u, 16u, 31u, 33u, 64u}) {
    auto p = Pseudonymiser::Create(SecureBuffer(n));
    ASSERT_FALSE(p.ok()) << n;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(NormaliseIdentifierTest, IdentifiersKeepOnlyUpperCasedLettersAndDigits) {
  EXPECT_EQ(NormaliseIdentifier("nhs_number", "943 476 5919"), "9434765919");
  EXPECT_EQ(NormaliseIdentifier("pnc_id", "2001/0012345x"), "20010012345X");
  EXPECT_EQ(NormaliseIdentifier("upn", "a-123_456.b"), "A123456B");
  EXPECT_EQ(NormaliseIdentifier("upn", " \t\n"), "");
  // Non-ASCII bytes are kept as they are, so distinct inputs do not collapse.
  EXPECT_EQ(NormaliseIdentifier("upn", "\xC3\xA9-1"),
            "\xC3\xA9"
            "1");
}

TEST(NormaliseIdentifierTest, NamesFoldWhitespaceAndKeepPunctuation) {
  EXPECT_EQ(NormaliseIdentifier("name_dob", "  jane \t\n smith  "), "JANE SMITH");
  EXPECT_EQ(NormaliseIdentifier("name_dob", "Mary-Jane O'Neil 2011-04-01"),
            "MARY-JANE O'NEIL 2011-04-01");
  EXPECT_NE(NormaliseIdentifier("name_dob", "ann marie"),
            NormaliseIdentifier("name_dob", "annmarie"));
}

}  // namespace
}  // namespace mash::crypto
