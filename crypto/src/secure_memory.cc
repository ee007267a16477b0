#include "mash/crypto/secure_memory.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mash::crypto {

SecureBuffer::SecureBuffer(size_t size) {
  // A zero-sized buffer holds no secret; sodium_malloc would still map guard pages for it.
  if (size == 0) return;
  void* p = sodium_malloc(size);
  if (p == nullptr) {
    // Going on without the memory for a secret would mean keeping it somewhere unprotected.
    std::fputs("fatal: sodium_malloc failed\n", stderr);
    std::abort();
  }
  std::memset(p, 0, size);
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
}

SecureBuffer SecureBuffer::CopyOf(std::span<const uint8_t> data) {
  SecureBuffer out(data.size());
  if (!data.empty()) std::memcpy(out.data_, data.data(), data.size());
  return out;
}

SecureBuffer::~SecureBuffer() {
  // sodium_free wipes the memory before unmapping it.
  if (data_ != nullptr) sodium_free(data_);
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

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
