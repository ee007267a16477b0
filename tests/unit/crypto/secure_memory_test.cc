#include "mash/crypto/secure_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <thread>
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

TEST(SecureBufferTest, AReusedBlockComesBackWiped) {
  const uint8_t* block_end = nullptr;
  {
    SecureBuffer secret(40);
    for (uint8_t& c : secret.span()) c = 0xA5;
    block_end = secret.data() + secret.size();
  }
  EXPECT_GE(PooledSecureBlocks(), 1u);
  // Same size class (64 bytes), so the block just kept: every byte of it zero again.
  SecureBuffer again(50);
  EXPECT_EQ(again.data() + again.size(), block_end);
  for (uint8_t c : again.span()) EXPECT_EQ(c, 0);
  uint8_t* block = again.data() - (64 - again.size());
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(block[i], 0) << i;
}

TEST(SecureBufferTest, EndsAtItsBlocksGuardPage) {
  SecureBuffer b(40);
  // The byte after the buffer is the first of sodium_malloc's guard page: touching it faults.
  EXPECT_DEATH(
      {
        volatile uint8_t* past = b.data() + b.size();
        *past = 1;
      },
      "");
}

TEST(SecureBufferTest, APoolKeepsABoundedNumberOfBlocks) {
  std::vector<SecureBuffer> many;
  for (int i = 0; i < 100; ++i) many.emplace_back(32);
  many.clear();
  EXPECT_LE(PooledSecureBlocks(), 8u * 8u);
  // Larger than the pooled sizes: allocated and freed each time, still zero-filled.
  SecureBuffer big(SecureBuffer::kPooledMax + 1);
  for (uint8_t c : big.span()) ASSERT_EQ(c, 0);
}

TEST(SecureBufferTest, ABufferReleasedOnAnotherThreadIsKeptThere) {
  SecureBuffer b(100);
  b.data()[0] = 1;
  std::thread([moved = std::move(b)]() mutable {
    const size_t before = PooledSecureBlocks();
    { SecureBuffer gone = std::move(moved); }
    EXPECT_EQ(PooledSecureBlocks(), before + 1);
  }).join();
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
