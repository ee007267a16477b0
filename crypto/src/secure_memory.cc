#include "mash/crypto/secure_memory.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace mash::crypto {

namespace {

constexpr size_t kSmallestBlock = 32;
constexpr size_t kBlocksPerSize = 8;
// Power-of-two sizes from kSmallestBlock to SecureBuffer::kPooledMax.
constexpr size_t kSizes =
    std::countr_zero(SecureBuffer::kPooledMax) - std::countr_zero(kSmallestBlock) + 1;

size_t BlockSize(size_t size) { return std::max(kSmallestBlock, std::bit_ceil(size)); }
size_t SizeIndex(size_t block) {
  return static_cast<size_t>(std::countr_zero(block) - std::countr_zero(kSmallestBlock));
}

// Set when the calling thread's pool is destroyed (at thread or process exit): a buffer
// released after that (one with static storage) goes back to sodium_free. A bool, trivially
// destructible, may be read after the thread's other thread_local objects are gone.
thread_local bool pool_gone = false;

// Wiped sodium_malloc blocks of one thread, by size.
class BlockPool {
 public:
  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    pool_gone = true;
    for (auto& kept : kept_) {
      for (void* p : kept) sodium_free(p);
    }
  }
  void* Take(size_t block) {
    auto& kept = kept_[SizeIndex(block)];
    if (kept.empty()) return nullptr;
    void* p = kept.back();
    kept.pop_back();
    return p;
  }
  // Takes `p` (wiped) or returns false when as many of its size are kept already.
  bool Keep(void* p, size_t block) {
    auto& kept = kept_[SizeIndex(block)];
    if (kept.size() >= kBlocksPerSize) return false;
    kept.push_back(p);
    return true;
  }
  size_t Count() const {
    size_t n = 0;
    for (const auto& kept : kept_) n += kept.size();
    return n;
  }

 private:
  std::array<std::vector<void*>, kSizes> kept_;
};

BlockPool& Pool() {
  thread_local BlockPool pool;
  return pool;
}

void* SodiumMallocOrAbort(size_t size) {
  void* p = sodium_malloc(size);
  if (p == nullptr) {
    // Going on without the memory for a secret would mean keeping it somewhere unprotected.
    std::fputs("fatal: sodium_malloc failed\n", stderr);
    std::abort();
  }
  return p;
}

}  // namespace

SecureBuffer::SecureBuffer(size_t size) {
  // A zero-sized buffer holds no secret; sodium_malloc would still map guard pages for it.
  if (size == 0) return;
  capacity_ = size <= kPooledMax ? BlockSize(size) : size;
  void* block = capacity_ <= kPooledMax && !pool_gone ? Pool().Take(capacity_) : nullptr;
  if (block == nullptr) {
    block = SodiumMallocOrAbort(capacity_);
    std::memset(block, 0, capacity_);  // sodium_malloc fills with a pattern; kept blocks are wiped
  }
  data_ = static_cast<uint8_t*>(block) + (capacity_ - size);
  size_ = size;
}

SecureBuffer SecureBuffer::CopyOf(std::span<const uint8_t> data) {
  SecureBuffer out(data.size());
  if (!data.empty()) std::memcpy(out.data_, data.data(), data.size());
  return out;
}

void SecureBuffer::Release() {
  if (data_ == nullptr) return;
  uint8_t* block = data_ + size_ - capacity_;
  if (capacity_ <= kPooledMax) {
    sodium_memzero(block, capacity_);
    if (!pool_gone && Pool().Keep(block, capacity_)) block = nullptr;
  }
  // sodium_free wipes the memory before unmapping it.
  if (block != nullptr) sodium_free(block);
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

SecureBuffer::~SecureBuffer() { Release(); }

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

size_t PooledSecureBlocks() { return Pool().Count(); }

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  // The sizes are not secret (keys and MACs have fixed sizes); only the contents are.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void Wipe(std::span<uint8_t> data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

}  // namespace mash::crypto
