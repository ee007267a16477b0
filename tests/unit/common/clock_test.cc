#include "mash/common/clock.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

namespace mash::common {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ClockTest, FormatRfc3339IsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339(FromUnix(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(FromUnix(1795335157) + milliseconds(123)), "2026-11-22T08:12:37.123Z");
  EXPECT_EQ(FormatRfc3339(FromUnix(951782400)), "2000-02-29T00:00:00.000Z");  // leap day
}

TEST(ClockTest, FormatRfc3339BeforeTheEpochRoundsDown) {
  EXPECT_EQ(FormatRfc3339(FromUnix(0) - milliseconds(500)), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(FormatRfc3339(FromUnix(-1)), "1969-12-31T23:59:59.000Z");
}

TEST(ClockTest, UnixRoundTrip) {
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{1795335157}, int64_t{-86400}}) {
    EXPECT_EQ(ToUnix(FromUnix(t)), t);
  }
  // Sub-second parts are dropped.
  EXPECT_EQ(ToUnix(FromUnix(10) + milliseconds(999)), 10);
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(FromUnix(1000));
  EXPECT_EQ(clock.NowUnix(), 1000);
  EXPECT_EQ(clock.NowUnix(), 1000);
  clock.Advance(seconds(61));
  EXPECT_EQ(clock.NowUnix(), 1061);
  clock.Set(FromUnix(5));
  EXPECT_EQ(clock.Now(), FromUnix(5));
}

TEST(ClockTest, SystemClockIsNearNow) {
  SystemClock clock;
  const auto diff = clock.Now() - std::chrono::system_clock::now();
  EXPECT_LT(std::chrono::abs(diff), seconds(5));
}

class RandomTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

std::vector<uint8_t> Draw(RandomSource& r, size_t n) {
  std::vector<uint8_t> out(n);
  r.Fill(out);
  return out;
}

TEST_F(RandomTest, DeterministicRandomIsReproducible) {
  DeterministicRandom a(42);
  DeterministicRandom b(42);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Draw(a, 37), Draw(b, 37)) << i;
  EXPECT_EQ(a.Uniform(1000), b.Uniform(1000));
  EXPECT_EQ(a.Hex(8), b.Hex(8));
}

TEST_F(RandomTest, DeterministicRandomDependsOnSeedAndAdvances) {
  DeterministicRandom a(1);
  DeterministicRandom b(2);
  const auto first = Draw(a, 32);
  EXPECT_NE(first, Draw(b, 32));
  EXPECT_NE(first, Draw(a, 32));  // each call draws a fresh stream
}

TEST_F(RandomTest, UniformStaysInRangeAndCoversIt) {
  DeterministicRandom r(7);
  for (uint32_t upper : {1u, 2u, 3u, 7u, 1000u, 0x80000001u, 0xffffffffu}) {
    for (int i = 0; i < 500; ++i) ASSERT_LT(r.Uniform(upper), upper) << upper;
  }
  EXPECT_EQ(r.Uniform(0), 0u);
  EXPECT_EQ(r.Uniform(1), 0u);
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(r.Uniform(7));
  EXPECT_EQ(seen.size(), 7u);
}

TEST_F(RandomTest, HexHasTheRequestedLength) {
  SystemRandom r;
  const std::string h = r.Hex(16);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(h, r.Hex(16));
  EXPECT_EQ(r.Hex(0), "");
}

}  // namespace
}  // namespace mash::common
