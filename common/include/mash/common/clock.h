// Clock and random sources, injected wherever time or randomness is needed so that pure code
// (policy, wire codec, Merkle tree) can be replayed and tested deterministically.
//
// Thread safety: SystemClock and SystemRandom are safe from any thread. FakeClock is safe from any
// thread (its time is atomic). DeterministicRandom is not thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace mash::common {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Whole seconds since the Unix epoch, the unit used on the wire.
  int64_t NowUnix() const;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Advance(TimePoint::duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

int64_t ToUnix(TimePoint t);
TimePoint FromUnix(int64_t seconds);
// RFC 3339 UTC with millisecond precision: "2026-11-22T08:12:37.123Z".
std::string FormatRfc3339(TimePoint t);

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` with random bytes. Never fails: a broken system RNG aborts the process.
  virtual void Fill(std::span<uint8_t> out) = 0;
  // A uniform value in [0, upper); upper > 0.
  uint32_t Uniform(uint32_t upper);
  // `bytes` random bytes as lower-case hex.
  std::string Hex(size_t bytes);
};

// libsodium's randombytes (getrandom(2)); sodium_init() must have run (see InitCrypto()).
class SystemRandom final : public RandomSource {
 public:
  void Fill(std::span<uint8_t> out) override;
};

// Reproducible stream from a 32-byte seed, for tests and data generators only.
class DeterministicRandom final : public RandomSource {
 public:
  explicit DeterministicRandom(uint64_t seed);
  void Fill(std::span<uint8_t> out) override;

 private:
  uint8_t seed_[32] = {};
  uint64_t counter_ = 0;
};

// Initialises libsodium once; aborts if it cannot (no safe way to continue without an RNG).
void InitCrypto();

}  // namespace mash::common
