// Memory for secrets: allocated with sodium_malloc (guard pages, mlock where allowed), wiped on
// release, never copied implicitly. Compare secrets only with ConstantTimeEqual.
//
// Buffers of up to kPooledMax bytes come from sodium_malloc blocks of a power-of-two size that
// each thread keeps for reuse once wiped: sodium_malloc maps, guards and locks pages, and
// sodium_free unmaps them (a TLB shootdown on every core), for each content key and plaintext
// of every envelope. The bytes of a pooled buffer end where its block ends, at the guard page,
// as a buffer of sodium_malloc's own does; a kept block is wiped in full before it is kept.
//
// Thread safety: a SecureBuffer is a value owned by one thread at a time; it may be released on
// another thread than the one that allocated it (the block goes to that thread's pool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mash::crypto {

class SecureBuffer {
 public:
  static constexpr size_t kPooledMax = 4096;

  SecureBuffer() = default;
  // Allocates `size` bytes, zero-filled. Aborts if sodium_malloc fails (no safe way to go on).
  explicit SecureBuffer(size_t size);
  // Copies `data` into secure memory.
  static SecureBuffer CopyOf(std::span<const uint8_t> data);
  ~SecureBuffer();

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // of the sodium_malloc block, whose last size_ bytes are data_
};

// Blocks the calling thread keeps for reuse (for tests and metrics).
size_t PooledSecureBlocks();

// Constant-time comparison (sodium_memcmp); false when the sizes differ.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Wipes `data` (sodium_memzero).
void Wipe(std::span<uint8_t> data);

}  // namespace mash::crypto
