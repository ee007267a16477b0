#include "mash/audit/merkle.h"

#include <openssl/evp.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mash::audit {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;
constexpr uint8_t kChainPrefix = 0x02;

// Largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// SHA-256 through OpenSSL's EVP interface, which uses the CPU's SHA extensions: leaf, node and
// chain hashing dominate verification time. One context per thread, reused.
class Sha256Ctx {
 public:
  Sha256Ctx() : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
    if (ctx_ == nullptr || md_ == nullptr) std::abort();  // no SHA-256: nothing is safe to do
  }
  ~Sha256Ctx() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256Ctx(const Sha256Ctx&) = delete;
  Sha256Ctx& operator=(const Sha256Ctx&) = delete;

  Hash Digest(uint8_t prefix, std::span<const uint8_t> a, std::span<const uint8_t> b = {}) {
    Hash out;
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, &prefix, 1) != 1 ||
        EVP_DigestUpdate(ctx_, a.data(), a.size()) != 1 ||
        EVP_DigestUpdate(ctx_, b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
      std::abort();
    }
    return out;
  }
  Hash Chain(uint8_t prefix, const Hash& a, const Hash& b) {
    return Digest(prefix, std::span<const uint8_t>(a), std::span<const uint8_t>(b));
  }

 private:
  EVP_MD_CTX* ctx_;
  EVP_MD* md_;
};

Sha256Ctx& Hasher() {
  thread_local Sha256Ctx ctx;
  return ctx;
}

Status RootMismatch() { return DataLoss("root mismatch"); }

Status VerifyMatch(std::span<const uint8_t> got, std::span<const uint8_t> want) {
  if (got.size() != want.size() || std::memcmp(got.data(), want.data(), got.size()) != 0) {
    return RootMismatch();
  }
  return Status::Ok();
}

int InnerProofSize(uint64_t index, uint64_t size) {
  return static_cast<int>(std::bit_width(index ^ (size - 1)));
}

std::pair<int, int> DecompInclProof(uint64_t index, uint64_t size) {
  const int inner = InnerProofSize(index, size);
  const int border = std::popcount(inner >= 64 ? 0 : index >> inner);
  return {inner, border};
}

// Chain values are byte strings, as in the reference: a seed may be a caller's root of any
// length, and only a final comparison decides.
Bytes ChainInner(Bytes seed, std::span<const Bytes> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    Hash h = ((index >> i) & 1) == 0 ? HashChildren(seed, proof[i]) : HashChildren(proof[i], seed);
    seed.assign(h.begin(), h.end());
  }
  return seed;
}

Bytes ChainInnerRight(Bytes seed, std::span<const Bytes> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (((index >> i) & 1) == 1) {
      Hash h = HashChildren(proof[i], seed);
      seed.assign(h.begin(), h.end());
    }
  }
  return seed;
}

Bytes ChainBorderRight(Bytes seed, std::span<const Bytes> proof) {
  for (const Bytes& p : proof) {
    Hash h = HashChildren(p, seed);
    seed.assign(h.begin(), h.end());
  }
  return seed;
}

Status PathImpl(const NodeReader& nodes, uint64_t begin, uint64_t m, uint64_t n,
                std::vector<Hash>* out) {
  if (n == 1) return Status::Ok();
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    MASH_RETURN_IF_ERROR(PathImpl(nodes, begin, m, k, out));
    MASH_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(nodes, begin + k, n - k));
    out->push_back(h);
  } else {
    MASH_RETURN_IF_ERROR(PathImpl(nodes, begin + k, m - k, n - k, out));
    MASH_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(nodes, begin, k));
    out->push_back(h);
  }
  return Status::Ok();
}

Status SubProofImpl(const NodeReader& nodes, uint64_t begin, uint64_t m, uint64_t n, bool complete,
                    std::vector<Hash>* out) {
  if (m == n) {
    if (!complete) {
      MASH_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(nodes, begin, n));
      out->push_back(h);
    }
    return Status::Ok();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    MASH_RETURN_IF_ERROR(SubProofImpl(nodes, begin, m, k, complete, out));
    MASH_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(nodes, begin + k, n - k));
    out->push_back(h);
  } else {
    MASH_RETURN_IF_ERROR(SubProofImpl(nodes, begin + k, m - k, n - k, false, out));
    MASH_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(nodes, begin, k));
    out->push_back(h);
  }
  return Status::Ok();
}

}  // namespace

Hash HashLeaf(std::span<const uint8_t> leaf_input) {
  return Hasher().Digest(kLeafPrefix, leaf_input);
}

Hash HashChildren(std::span<const uint8_t> left, std::span<const uint8_t> right) {
  return Hasher().Digest(kNodePrefix, left, right);
}

Hash EmptyRoot() {
  // SHA-256 of the empty string.
  static const Hash empty = [] {
    Hash h;
    unsigned int len = 0;
    EVP_Digest(nullptr, 0, h.data(), &len, EVP_sha256(), nullptr);
    return h;
  }();
  return empty;
}

Hash ChainNext(const Hash& previous, const Hash& leaf_hash) {
  return Hasher().Chain(kChainPrefix, previous, leaf_hash);
}

Bytes ToBytes(const Hash& h) { return Bytes(h.begin(), h.end()); }

std::vector<Bytes> ToBytes(const std::vector<Hash>& proof) {
  std::vector<Bytes> out;
  out.reserve(proof.size());
  for (const Hash& h : proof) out.push_back(ToBytes(h));
  return out;
}

std::optional<Hash> HashFromBytes(std::span<const uint8_t> b) {
  if (b.size() != kHashSize) return std::nullopt;
  Hash h;
  std::memcpy(h.data(), b.data(), kHashSize);
  return h;
}

Result<Hash> SubtreeRoot(const NodeReader& nodes, uint64_t begin, uint64_t count) {
  if (count == 0) return InvalidArgument("empty subtree");
  if (IsPowerOfTwo(count) && begin % count == 0) {
    const int level = std::countr_zero(count);
    return nodes.Node(level, begin >> level);
  }
  const uint64_t k = IsPowerOfTwo(count) ? count / 2 : SplitPoint(count);
  MASH_ASSIGN_OR_RETURN(Hash left, SubtreeRoot(nodes, begin, k));
  MASH_ASSIGN_OR_RETURN(Hash right, SubtreeRoot(nodes, begin + k, count - k));
  return HashChildren(left, right);
}

Result<Hash> TreeRoot(const NodeReader& nodes, uint64_t size) {
  if (size == 0) return EmptyRoot();
  return SubtreeRoot(nodes, 0, size);
}

Result<std::vector<Hash>> InclusionProof(const NodeReader& nodes, uint64_t index, uint64_t size) {
  if (index >= size) return InvalidArgument("leaf index outside the tree");
  std::vector<Hash> out;
  MASH_RETURN_IF_ERROR(PathImpl(nodes, 0, index, size, &out));
  return out;
}

Result<std::vector<Hash>> ConsistencyProof(const NodeReader& nodes, uint64_t old_size,
                                           uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return InvalidArgument("consistency proof needs 0 < old size <= new size");
  }
  std::vector<Hash> out;
  MASH_RETURN_IF_ERROR(SubProofImpl(nodes, 0, old_size, new_size, true, &out));
  return out;
}

Status VerifyInclusion(uint64_t index, uint64_t size, std::span<const uint8_t> leaf_hash,
                       const std::vector<Bytes>& proof, std::span<const uint8_t> root) {
  if (index >= size) return InvalidArgument("leaf index outside the tree");
  if (leaf_hash.size() != kHashSize) return InvalidArgument("leaf hash must be 32 bytes");
  const auto [inner, border] = DecompInclProof(index, size);
  if (proof.size() != static_cast<size_t>(inner + border)) {
    return InvalidArgument("wrong inclusion proof length");
  }
  std::span<const Bytes> p(proof);
  Bytes res(leaf_hash.begin(), leaf_hash.end());
  res = ChainInner(std::move(res), p.first(static_cast<size_t>(inner)), index);
  res = ChainBorderRight(std::move(res), p.subspan(static_cast<size_t>(inner)));
  return VerifyMatch(res, root);
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Bytes>& proof,
                         std::span<const uint8_t> root1, std::span<const uint8_t> root2) {
  if (size2 < size1) return InvalidArgument("size2 < size1");
  if (size1 == 0) return InvalidArgument("consistency proof from an empty tree");
  if (size1 == size2) {
    if (!proof.empty()) return InvalidArgument("non-empty proof for equal sizes");
    return VerifyMatch(root1, root2);
  }
  if (proof.empty()) return InvalidArgument("empty consistency proof");

  auto [inner, border] = DecompInclProof(size1 - 1, size2);
  const int shift = std::countr_zero(size1);
  inner -= shift;  // shift < inner when size1 < size2

  std::span<const uint8_t> seed;
  size_t start = 0;
  if (size1 == (uint64_t{1} << shift)) {
    seed = root1;
    start = 0;
  } else {
    seed = proof[0];
    start = 1;
  }
  if (proof.size() != start + static_cast<size_t>(inner + border)) {
    return InvalidArgument("wrong consistency proof length");
  }
  std::span<const Bytes> p = std::span<const Bytes>(proof).subspan(start);
  std::span<const Bytes> inner_part = p.first(static_cast<size_t>(inner));
  std::span<const Bytes> border_part = p.subspan(static_cast<size_t>(inner));
  const uint64_t mask = (size1 - 1) >> shift;

  const Bytes seed_bytes(seed.begin(), seed.end());
  Bytes hash1 = ChainBorderRight(ChainInnerRight(seed_bytes, inner_part, mask), border_part);
  MASH_RETURN_IF_ERROR(VerifyMatch(hash1, root1));
  Bytes hash2 = ChainBorderRight(ChainInner(seed_bytes, inner_part, mask), border_part);
  return VerifyMatch(hash2, root2);
}
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       const std::vector<Hash>& proof, const Hash& root) {
  return VerifyInclusion(index, size, std::span<const uint8_t>(leaf_hash), ToBytes(proof),
                         std::span<const uint8_t>(root));
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Hash>& proof,
                         const Hash& root1, const Hash& root2) {
  return VerifyConsistency(size1, size2, ToBytes(proof), std::span<const uint8_t>(root1),
                           std::span<const uint8_t>(root2));
}

// ---- Frontier ----

Result<Frontier> Frontier::Load(const NodeReader& nodes, uint64_t size) {
  Frontier f;
  f.size_ = size;
  for (int level = 0; level < 64; ++level) {
    if (((size >> level) & 1) == 0) continue;
    if (f.peaks_.size() <= static_cast<size_t>(level)) f.peaks_.resize(level + 1);
    MASH_ASSIGN_OR_RETURN(Hash h, nodes.Node(level, (size >> level) - 1));
    f.peaks_[level] = h;
  }
  return f;
}

void Frontier::Append(const Hash& leaf_hash, std::vector<NewNode>* completed) {
  Hash cur = leaf_hash;
  uint64_t index = size_;
  int level = 0;
  while ((index & 1) == 1) {
    // The left sibling is the peak at this level.
    cur = HashChildren(*peaks_[level], cur);
    peaks_[level].reset();
    ++level;
    index >>= 1;
    if (completed != nullptr) completed->push_back({level, index, cur});
  }
  if (peaks_.size() <= static_cast<size_t>(level)) peaks_.resize(level + 1);
  peaks_[level] = cur;
  ++size_;
}

Hash Frontier::Root() const {
  if (size_ == 0) return EmptyRoot();
  std::optional<Hash> acc;
  for (const auto& peak : peaks_) {
    if (!peak) continue;
    acc = acc ? HashChildren(*peak, *acc) : *peak;
  }
  return *acc;
}

// ---- MemoryTree ----

void MemoryTree::Append(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  size_t level = 0;
  uint64_t index = levels_[0].size() - 1;
  while ((index & 1) == 1) {
    Hash parent = HashChildren(levels_[level][index - 1], levels_[level][index]);
    ++level;
    index >>= 1;
    if (levels_.size() <= level) levels_.emplace_back();
    levels_[level].push_back(parent);
  }
}

Result<Hash> MemoryTree::Node(int level, uint64_t index) const {
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index >= levels_[level].size()) {
    return NotFound("no node at level " + std::to_string(level) + " index " +
                    std::to_string(index));
  }
  return levels_[level][index];
}

Hash MemoryTree::Root() const {
  auto r = TreeRoot(*this, size());
  return r.ok() ? *r : Hash{};
}

}  // namespace mash::audit
