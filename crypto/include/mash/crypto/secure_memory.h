// Memory for secrets: allocated with sodium_malloc (guard pages, mlock where allowed), wiped on
// release, never copied implicitly. Compare secrets only with ConstantTimeEqual.
//
// Thread safety: a SecureBuffer is a value owned by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mash::crypto {

class SecureBuffer {
 public:
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
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Constant-time comparison (sodium_memcmp); false when the sizes differ.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Wipes `data` (sodium_memzero).
void Wipe(std::span<uint8_t> data);

}  // namespace mash::crypto
