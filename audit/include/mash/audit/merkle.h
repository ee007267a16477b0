// RFC 6962 Merkle tree hashing, proofs and proof verifiers (pure: no I/O, no clock).
//
//   leaf hash  = SHA-256(0x00 || leaf input)
//   node hash  = SHA-256(0x01 || left || right)
//   empty tree = SHA-256("")
//
// Proofs are built from a NodeReader that returns the hash of any complete, aligned subtree
// (level l, index i covers leaves [i * 2^l, (i + 1) * 2^l)), so an implementation that stores
// interior nodes answers in O(log n) reads per proof element. The verifiers are a faithful port
// of transparency-dev/merkle proof/verify.go (including: a consistency proof from size 0 is
// always rejected), checked against every RFC 6962 probe in tests/testdata/merkle/.
//
// Thread safety: pure functions; a Frontier or MemoryTree belongs to one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mash/common/encoding.h"
#include "mash/common/status.h"

namespace mash::audit {

using common::Bytes;
inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

Hash HashLeaf(std::span<const uint8_t> leaf_input);
// Takes spans of any length: proof elements are not length-checked by the verifiers (a wrong
// length simply yields a root mismatch), as in the reference implementation.
Hash HashChildren(std::span<const uint8_t> left, std::span<const uint8_t> right);
Hash EmptyRoot();
// The running hash chain: chain[i] = SHA-256(0x02 || chain[i-1] || leaf_hash[i]), with
// chain[-1] = 32 zero bytes (docs/audit-format.md).
Hash ChainNext(const Hash& previous, const Hash& leaf_hash);
inline Hash ChainStart() { return Hash{}; }

Bytes ToBytes(const Hash& h);
// nullopt unless exactly 32 bytes.
std::optional<Hash> HashFromBytes(std::span<const uint8_t> b);

// Source of complete-subtree hashes for proof construction.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  // Hash of the complete subtree at (level, index). Callers only ask for subtrees that lie
  // within the tree size they are building a proof for.
  virtual Result<Hash> Node(int level, uint64_t index) const = 0;
};

// MTH(D[begin : begin + count]) for an RFC 6962 subtree (begin a multiple of the largest power
// of two below count, as every subtree of the RFC 6962 recursion is). count > 0.
Result<Hash> SubtreeRoot(const NodeReader& nodes, uint64_t begin, uint64_t count);
// MTH of the first `size` leaves (EmptyRoot for size 0).
Result<Hash> TreeRoot(const NodeReader& nodes, uint64_t size);
// RFC 6962 §2.1.1 audit path for leaf `index` in a tree of `size` leaves, leaf level first.
// InvalidArgument when index >= size.
Result<std::vector<Hash>> InclusionProof(const NodeReader& nodes, uint64_t index, uint64_t size);
// RFC 6962 §2.1.2 consistency proof between sizes old_size and new_size. InvalidArgument unless
// 0 < old_size <= new_size (an equal size gives an empty proof).
Result<std::vector<Hash>> ConsistencyProof(const NodeReader& nodes, uint64_t old_size,
                                           uint64_t new_size);

// Verifiers. OK, or: InvalidArgument (index >= size, wrong leaf hash length, wrong proof length,
// size1 == 0, size2 < size1, ...) or DataLoss ("root mismatch").
Status VerifyInclusion(uint64_t index, uint64_t size, std::span<const uint8_t> leaf_hash,
                       const std::vector<Bytes>& proof, std::span<const uint8_t> root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Bytes>& proof,
                         std::span<const uint8_t> root1, std::span<const uint8_t> root2);
// Conveniences over Hash vectors.
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       const std::vector<Hash>& proof, const Hash& root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Hash>& proof,
                         const Hash& root1, const Hash& root2);
std::vector<Bytes> ToBytes(const std::vector<Hash>& proof);

// The right edge of a tree: for each level, the hash of the last complete subtree when the
// number of subtrees at that level is odd (the "peaks"). Appending a leaf yields the interior
// nodes that became complete; the root is the fold of the peaks.
class Frontier {
 public:
  struct NewNode {
    int level;
    uint64_t index;
    Hash hash;
  };
  Frontier() = default;
  // Rebuilds the frontier of a tree of `size` leaves from stored nodes (O(log n) reads).
  static Result<Frontier> Load(const NodeReader& nodes, uint64_t size);

  uint64_t size() const { return size_; }
  // Appends a leaf hash; appends to `completed` every interior node (level >= 1) it completes.
  void Append(const Hash& leaf_hash, std::vector<NewNode>* completed);
  Hash Root() const;
  // Peaks from the highest level down (docs/audit-format.md, tombstones).
  const std::vector<std::optional<Hash>>& peaks() const { return peaks_; }

 private:
  uint64_t size_ = 0;
  std::vector<std::optional<Hash>> peaks_;  // by level
};

// Every node of a tree in memory (levels_[0] = leaf hashes). For tests, exports and tools.
class MemoryTree final : public NodeReader {
 public:
  void Append(const Hash& leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Result<Hash> Node(int level, uint64_t index) const override;
  Hash Root() const;

 private:
  std::vector<std::vector<Hash>> levels_;
};

}  // namespace mash::audit
