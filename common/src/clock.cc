#include "mash/common/clock.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace mash::common {

int64_t Clock::NowUnix() const { return ToUnix(Now()); }

int64_t ToUnix(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnix(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

std::string FormatRfc3339(TimePoint t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  if (ms < 0 && ms % 1000 != 0) --secs;
  const int millis = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

uint32_t RandomSource::Uniform(uint32_t upper) {
  // Rejection sampling, as randombytes_uniform does, so that any source is unbiased.
  if (upper < 2) return 0;
  const uint32_t min = (1U + ~upper) % upper;
  uint32_t r;
  do {
    Fill({reinterpret_cast<uint8_t*>(&r), sizeof r});
  } while (r < min);
  return r % upper;
}

std::string RandomSource::Hex(size_t bytes) {
  std::string raw(bytes, '\0');
  Fill({reinterpret_cast<uint8_t*>(raw.data()), raw.size()});
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  out.resize(bytes * 2);
  return out;
}

void SystemRandom::Fill(std::span<uint8_t> out) {
  if (out.empty()) return;  // libsodium's buffer is declared non-null
  randombytes_buf(out.data(), out.size());
}

DeterministicRandom::DeterministicRandom(uint64_t seed) {
  for (int i = 0; i < 8; ++i) seed_[i] = static_cast<uint8_t>(seed >> (8 * i));
}

void DeterministicRandom::Fill(std::span<uint8_t> out) {
  if (out.empty()) return;  // libsodium's buffer is declared non-null
  // Each call draws from a fresh ChaCha20 stream keyed by (seed, counter).
  uint8_t seed[32];
  for (int i = 0; i < 32; ++i) seed[i] = seed_[i];
  for (int i = 0; i < 8; ++i) seed[24 + i] = static_cast<uint8_t>(counter_ >> (8 * i));
  ++counter_;
  randombytes_buf_deterministic(out.data(), out.size(), seed);
}

void InitCrypto() {
  if (sodium_init() < 0) {
    std::fputs("fatal: libsodium could not be initialised\n", stderr);
    std::abort();
  }
}

}  // namespace mash::common
