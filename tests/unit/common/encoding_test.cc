#include "mash/common/encoding.h"

#include <gtest/gtest.h>

#include "mash/common/clock.h"

namespace mash::common {
namespace {

class EncodingTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

TEST_F(EncodingTest, Base64KnownAnswers) {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(AsString(*decoded), plain);
  }
}

TEST_F(EncodingTest, Base64RoundTripsEveryLengthAndByte) {
  DeterministicRandom r(3);
  for (size_t n = 0; n < 70; ++n) {
    Bytes data(n);
    r.Fill(data);
    auto back = Base64Decode(Base64Encode(data));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, data) << n;
  }
}

TEST_F(EncodingTest, Base64RejectsGarbage) {
  for (const char* bad :
       {"Zm9v!", "Zm9vYmFy=", "Zm9vY", "Zm9v\n", " Zm9v", "Zm9vYmFy==", "Zm=9", "Zm9v-_", "===="}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST_F(EncodingTest, HexRoundTripAndKnownAnswer) {
  const Bytes data = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(data), "00017f80abff");
  auto back = HexDecode("00017f80abff");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, data);
  EXPECT_EQ(HexEncode({}), "");
  ASSERT_TRUE(HexDecode("").has_value());
  EXPECT_TRUE(HexDecode("")->empty());
}

TEST_F(EncodingTest, HexRejectsGarbage) {
  for (const char* bad : {"0", "abc", "zz", "0g", "00 ", " 00", "0x00", "00\n"}) {
    EXPECT_FALSE(HexDecode(bad).has_value()) << bad;
  }
}

TEST_F(EncodingTest, AsBytesAndAsStringAreViews) {
  const std::string s("a\0b", 3);
  const auto b = AsBytes(s);
  EXPECT_EQ(b.size(), s.size());
  EXPECT_EQ(AsString(b), s);
}

}  // namespace
}  // namespace mash::common
