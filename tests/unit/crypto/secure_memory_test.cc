#include "mash/crypto/secure_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <utility>
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

TEST(SecureBufferTest, DefaultIsEmpty) {
  SecureBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.data(), nullptr);
}

TEST(SecureBufferTest, AllocatesZeroFilled) {
  SecureBuffer b(64);
  ASSERT_EQ(b.size(), 64u);
  ASSERT_NE(b.data(), nullptr);
  for (uint8_t c : b.span()) EXPECT_EQ(c, 0);
}

TEST(SecureBufferTest, ZeroSizeIsEmpty) {
  SecureBuffer b(0);
  EXPECT_TRUE(b.empty());
  EXPECT_TRUE(SecureBuffer::CopyOf({}).empty());
}

TEST(SecureBufferTest, CopyOfCopiesBytes) {
  const std::vector<uint8_t> src = {1, 2, 3, 4, 5};
  SecureBuffer b = SecureBuffer::CopyOf(src);
  ASSERT_EQ(b.size(), src.size());
  EXPECT_EQ(std::vector<uint8_t>(b.span().begin(), b.span().end()), src);
  EXPECT_NE(static_cast<const void*>(b.data()), static_cast<const void*>(src.data()));
}

TEST(SecureBufferTest, MoveConstructionTransfersOwnership) {
  SecureBuffer a = SecureBuffer::CopyOf(std::vector<uint8_t>{7, 8, 9});
  const uint8_t* p = a.data();
  SecureBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_EQ(a.size(), 0u);       // NOLINT(bugprone-use-after-move)
}

TEST(SecureBufferTest, MoveAssignmentReplacesContents) {
  SecureBuffer a = SecureBuffer::CopyOf(std::vector<uint8_t>{1, 1});
  SecureBuffer b = SecureBuffer::CopyOf(std::vector<uint8_t>{2, 2, 2});
  const uint8_t* p = b.data();
  a = std::move(b);
  EXPECT_EQ(a.data(), p);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.data()[0], 2);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecureBufferTest, SelfMoveAssignmentKeepsContents) {
  SecureBuffer a = SecureBuffer::CopyOf(std::vector<uint8_t>{4, 5});
  SecureBuffer& ref = a;
  a = std::move(ref);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a.data()[1], 5);
}

TEST(ConstantTimeEqualTest, EqualContentsCompareEqual) {
  const std::array<uint8_t, 4> a = {1, 2, 3, 4};
  const std::array<uint8_t, 4> b = {1, 2, 3, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, b));
}

TEST(ConstantTimeEqualTest, AnyDifferentByteCompareUnequal) {
  const std::array<uint8_t, 4> a = {1, 2, 3, 4};
  for (size_t i = 0; i < a.size(); ++i) {
    std::array<uint8_t, 4> b = a;
    b[i] ^= 0x80;
    EXPECT_FALSE(ConstantTimeEqual(a, b)) << "byte " << i;
  }
}

TEST(ConstantTimeEqualTest, DifferentSizesCompareUnequal) {
  const std::array<uint8_t, 4> a = {1, 2, 3, 4};
  const std::array<uint8_t, 3> b = {1, 2, 3};
  EXPECT_FALSE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(b, a));
}

TEST(ConstantTimeEqualTest, EmptySpansCompareEqual) { EXPECT_TRUE(ConstantTimeEqual({}, {})); }

TEST(WipeTest, ZeroesEveryByte) {
  std::array<uint8_t, 16> a;
  a.fill(0xAB);
  Wipe(a);
  for (uint8_t c : a) EXPECT_EQ(c, 0);
}

TEST(WipeTest, WipesOnlyTheGivenRange) {
  std::array<uint8_t, 8> a;
  a.fill(0xCD);
  Wipe(std::span<uint8_t>(a).subspan(2, 4));
  EXPECT_EQ(a[1], 0xCD);
  EXPECT_EQ(a[2], 0);
  EXPECT_EQ(a[5], 0);
  EXPECT_EQ(a[6], 0xCD);
  Wipe({});  // an empty span is fine
}

}  // namespace
}  // namespace mash::crypto
