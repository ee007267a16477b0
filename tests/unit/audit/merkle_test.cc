// RFC 6962 hashing, proof construction and verification: known answers, the transparency-dev
// probe files, a simple recursive reference implementation, and every single corruption.
#include "mash/audit/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mash::audit {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kData = fs::path(MASH_SOURCE_DIR) / "tests/testdata/merkle";

json LoadJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

Bytes Hex(const std::string& s) { return *common::HexDecode(s); }
Bytes B64(const json& j) { return *common::Base64Decode(j.get<std::string>()); }

std::vector<Bytes> B64List(const json& j) {
  std::vector<Bytes> out;
  if (j.is_null()) return out;
  for (const auto& e : j) out.push_back(B64(e));
  return out;
}

// ---- reference implementation: RFC 6962 §2.1 written out recursively over leaf hashes ----
uint64_t Split(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
Hash RefRoot(const std::vector<Hash>& d, uint64_t b, uint64_t n) {
  if (n == 0) return EmptyRoot();
  if (n == 1) return d[b];
  const uint64_t k = Split(n);
  return HashChildren(RefRoot(d, b, k), RefRoot(d, b + k, n - k));
}
std::vector<Hash> RefPath(const std::vector<Hash>& d, uint64_t m, uint64_t b, uint64_t n) {
  if (n == 1) return {};
  const uint64_t k = Split(n);
  std::vector<Hash> out;
  if (m < k) {
    out = RefPath(d, m, b, k);
    out.push_back(RefRoot(d, b + k, n - k));
  } else {
    out = RefPath(d, m - k, b + k, n - k);
    out.push_back(RefRoot(d, b, k));
  }
  return out;
}
std::vector<Hash> RefSubProof(const std::vector<Hash>& d, uint64_t m, uint64_t b, uint64_t n,
                              bool complete) {
  if (m == n) {
    if (complete) return {};
    return {RefRoot(d, b, n)};
  }
  const uint64_t k = Split(n);
  std::vector<Hash> out;
  if (m <= k) {
    out = RefSubProof(d, m, b, k, complete);
    out.push_back(RefRoot(d, b + k, n - k));
  } else {
    out = RefSubProof(d, m - k, b + k, n - k, false);
    out.push_back(RefRoot(d, b, k));
  }
  return out;
}

// The shape of an RFC 6962 proof for (index, size): how many inner and border steps. Two sizes
// with the same shape give the same computation, so a verifier cannot tell them apart from the
// proof alone: the checkpoint signature binds a size to its root.
std::pair<int, int> Shape(uint64_t index, uint64_t size) {
  const int inner = std::bit_width(index ^ (size - 1));
  return {inner, std::popcount(index >> inner)};
}

std::vector<Hash> Leaves(size_t n) {
  std::vector<Hash> out;
  for (size_t i = 0; i < n; ++i) {
    const std::string s = "leaf " + std::to_string(i);
    out.push_back(HashLeaf(common::AsBytes(s)));
  }
  return out;
}

MemoryTree TreeOf(const std::vector<Hash>& leaves) {
  MemoryTree t;
  for (const auto& h : leaves) t.Append(h);
  return t;
}

TEST(MerkleTest, HasherKnownAnswers) {
  EXPECT_EQ(common::HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(common::HexEncode(HashLeaf({})),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(common::HexEncode(HashLeaf(common::AsBytes("L123456"))),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
  EXPECT_EQ(common::HexEncode(HashChildren(common::AsBytes("N123"), common::AsBytes("N456"))),
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
}

class ReferenceTree : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = LoadJson(kData / "reference_vectors.json");
    for (const auto& in : v_["published"]["leaf_inputs_hex"]) {
      leaves_.push_back(HashLeaf(Hex(in.get<std::string>())));
      tree_.Append(leaves_.back());
    }
  }
  json v_;
  std::vector<Hash> leaves_;
  MemoryTree tree_;
};

TEST_F(ReferenceTree, RootsAndNodesMatchPublishedValues) {
  EXPECT_EQ(common::HexEncode(*TreeRoot(tree_, 0)), v_["published"]["empty_root"]);
  for (const auto& [size, root] : v_["published"]["roots_by_tree_size"].items()) {
    const uint64_t n = std::stoull(size);
    EXPECT_EQ(common::HexEncode(*TreeRoot(tree_, n)), root.get<std::string>()) << n;
    // The frontier gives the same root incrementally.
    Frontier f;
    for (uint64_t i = 0; i < n; ++i) f.Append(leaves_[i], nullptr);
    EXPECT_EQ(common::HexEncode(f.Root()), root.get<std::string>()) << n;
  }
  const auto& levels = v_["published"]["node_hashes_by_level"];
  for (size_t level = 0; level < levels.size(); ++level) {
    for (size_t i = 0; i < levels[level].size(); ++i) {
      EXPECT_EQ(common::HexEncode(*tree_.Node(static_cast<int>(level), i)),
                levels[level][i].get<std::string>());
    }
  }
}

TEST_F(ReferenceTree, ProofsMatchPublishedAndComputedVectors) {
  int checked = 0;
  for (const char* group : {"published", "computed"}) {
    const char* incl =
        std::string(group) == "published" ? "inclusion_paths" : "all_inclusion_paths";
    for (const auto& p : v_[group][incl]) {
      const uint64_t idx = p["leafIdx"], size = p["treeSize"];
      auto proof = InclusionProof(tree_, idx, size);
      ASSERT_TRUE(proof.ok());
      std::vector<std::string> got;
      for (const auto& h : *proof) got.push_back(common::HexEncode(h));
      EXPECT_EQ(json(got), p["path"]) << idx << " " << size;
      EXPECT_TRUE(VerifyInclusion(idx, size, leaves_[idx], *proof, *TreeRoot(tree_, size)).ok());
      ++checked;
    }
    const char* cons =
        std::string(group) == "published" ? "consistency_proofs" : "all_consistency_proofs";
    for (const auto& p : v_[group][cons]) {
      const uint64_t m = p["size1"], n = p["size2"];
      auto proof = ConsistencyProof(tree_, m, n);
      ASSERT_TRUE(proof.ok());
      std::vector<std::string> got;
      for (const auto& h : *proof) got.push_back(common::HexEncode(h));
      EXPECT_EQ(json(got), p["proof"]) << m << " " << n;
      EXPECT_TRUE(VerifyConsistency(m, n, *proof, *TreeRoot(tree_, m), *TreeRoot(tree_, n)).ok());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5 + 5 + 36 + 36);
}

// Every RFC 6962 probe file of transparency-dev/merkle: accept exactly the happy paths.
TEST(MerkleProbes, VerifiersAgreeWithEveryRfc6962Probe) {
  int inclusion = 0, consistency = 0, accepted = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kData / "testdata")) {
    if (entry.path().extension() != ".json") continue;
    const json p = LoadJson(entry.path());
    const bool want_err = p["wantErr"];
    const std::string kind = entry.path().lexically_relative(kData / "testdata").begin()->string();
    Status s;
    if (kind == "inclusion") {
      s = VerifyInclusion(p["leafIdx"].get<uint64_t>(), p["treeSize"].get<uint64_t>(),
                          B64(p["leafHash"]), B64List(p["proof"]), B64(p["root"]));
      ++inclusion;
    } else if (kind == "consistency") {
      s = VerifyConsistency(p["size1"].get<uint64_t>(), p["size2"].get<uint64_t>(),
                            B64List(p["proof"]), B64(p["root1"]), B64(p["root2"]));
      ++consistency;
    } else {
      continue;
    }
    EXPECT_EQ(s.ok(), !want_err) << entry.path() << ": " << s.ToString();
    if (s.ok()) ++accepted;
  }
  EXPECT_EQ(inclusion, 98);
  EXPECT_EQ(consistency, 98);
  EXPECT_EQ(accepted, 12);
}

TEST(MerkleTest, MatchesRecursiveReferenceForEveryIndexAndSize) {
  const auto leaves = Leaves(70);
  MemoryTree tree = TreeOf(leaves);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Hash root = RefRoot(leaves, 0, n);
    ASSERT_EQ(*TreeRoot(tree, n), root) << n;
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = InclusionProof(tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, RefPath(leaves, m, 0, n)) << m << "/" << n;
      ASSERT_TRUE(VerifyInclusion(m, n, leaves[m], *proof, root).ok());
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = ConsistencyProof(tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, RefSubProof(leaves, m, 0, n, true)) << m << "/" << n;
      ASSERT_TRUE(VerifyConsistency(m, n, *proof, RefRoot(leaves, 0, m), root).ok());
    }
  }
}

TEST(MerkleTest, RejectsOutOfRangeRequests) {
  MemoryTree tree = TreeOf(Leaves(4));
  EXPECT_FALSE(InclusionProof(tree, 4, 4).ok());
  EXPECT_FALSE(ConsistencyProof(tree, 0, 4).ok());
  EXPECT_FALSE(ConsistencyProof(tree, 3, 2).ok());
  EXPECT_FALSE(VerifyConsistency(0, 0, std::vector<Bytes>{}, EmptyRoot(), EmptyRoot()).ok());
}

// Each corruption of an inclusion proof is rejected: a flipped bit in any element, index +-1,
// a wrong tree size (x2, /2, and +-1 wherever that changes the proof's shape), a truncated or
// extended proof, a wrong leaf or root.
TEST(MerkleTest, InclusionVerifierRejectsEveryCorruption) {
  const auto leaves = Leaves(40);
  MemoryTree tree = TreeOf(leaves);
  int rejected = 0;
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Hash root = *TreeRoot(tree, n);
    for (uint64_t m = 0; m < n; ++m) {
      const std::vector<Bytes> proof = ToBytes(*InclusionProof(tree, m, n));
      const Bytes leaf = ToBytes(leaves[m]);
      ASSERT_TRUE(VerifyInclusion(m, n, leaf, proof, root).ok());
      for (size_t i = 0; i < proof.size(); ++i) {
        for (int bit : {0, 7, 100, 255}) {
          auto bad = proof;
          bad[i][bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
          EXPECT_FALSE(VerifyInclusion(m, n, leaf, bad, root).ok()) << m << "/" << n;
          ++rejected;
        }
      }
      auto bad_leaf = leaf;
      bad_leaf[31] ^= 1;
      EXPECT_FALSE(VerifyInclusion(m, n, bad_leaf, proof, root).ok());
      auto bad_root = root;
      bad_root[0] ^= 0x80;
      EXPECT_FALSE(VerifyInclusion(m, n, leaf, proof, bad_root).ok());
      if (m > 0) {
        EXPECT_FALSE(VerifyInclusion(m - 1, n, leaf, proof, root).ok());
      }
      EXPECT_FALSE(VerifyInclusion(m + 1, n, leaf, proof, root).ok());
      EXPECT_FALSE(VerifyInclusion(m, n * 2, leaf, proof, root).ok());
      if (n / 2 > m) {
        EXPECT_FALSE(VerifyInclusion(m, n / 2, leaf, proof, root).ok());
      }
      for (uint64_t other : {n - 1, n + 1}) {
        if (other <= m || other > leaves.size()) continue;
        if (Shape(m, other) == Shape(m, n)) continue;
        EXPECT_FALSE(VerifyInclusion(m, other, leaf, proof, root).ok()) << m << "/" << other;
      }
      if (!proof.empty()) {
        auto truncated = proof;
        truncated.pop_back();
        EXPECT_FALSE(VerifyInclusion(m, n, leaf, truncated, root).ok());
      }
      auto extended = proof;
      extended.push_back(ToBytes(root));
      EXPECT_FALSE(VerifyInclusion(m, n, leaf, extended, root).ok());
      auto prefixed = proof;
      prefixed.insert(prefixed.begin(), Bytes{});
      EXPECT_FALSE(VerifyInclusion(m, n, leaf, prefixed, root).ok());
      rejected += 6;
    }
  }
  EXPECT_GT(rejected, 5000);
}

TEST(MerkleTest, ConsistencyVerifierRejectsEveryCorruption) {
  const auto leaves = Leaves(33);
  MemoryTree tree = TreeOf(leaves);
  for (uint64_t n = 2; n <= leaves.size(); ++n) {
    const Hash root2 = *TreeRoot(tree, n);
    for (uint64_t m = 1; m < n; ++m) {
      const Hash root1 = *TreeRoot(tree, m);
      const std::vector<Bytes> proof = ToBytes(*ConsistencyProof(tree, m, n));
      ASSERT_TRUE(VerifyConsistency(m, n, proof, root1, root2).ok());
      for (size_t i = 0; i < proof.size(); ++i) {
        for (int bit : {0, 9, 200}) {
          auto bad = proof;
          bad[i][bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
          EXPECT_FALSE(VerifyConsistency(m, n, bad, root1, root2).ok()) << m << "->" << n;
        }
      }
      EXPECT_FALSE(VerifyConsistency(m, n, proof, root2, root1).ok()) << "swapped roots";
      EXPECT_FALSE(VerifyConsistency(m - 1, n, proof, root1, root2).ok());
      EXPECT_FALSE(VerifyConsistency(m + 1, n, proof, root1, root2).ok());
      // A size2 whose proof has the same shape gives the same computation (the size is bound to
      // its root by the checkpoint signature); every other one is rejected.
      if (Shape(m - 1, n + 1) != Shape(m - 1, n)) {
        EXPECT_FALSE(VerifyConsistency(m, n + 1, proof, root1, root2).ok()) << m << "->" << n;
      }
      EXPECT_FALSE(VerifyConsistency(m, n * 2, proof, root1, root2).ok());
      auto truncated = proof;
      truncated.pop_back();
      EXPECT_FALSE(VerifyConsistency(m, n, truncated, root1, root2).ok());
      auto extended = proof;
      extended.push_back(ToBytes(root2));
      EXPECT_FALSE(VerifyConsistency(m, n, extended, root1, root2).ok());
      EXPECT_FALSE(VerifyConsistency(m, n, std::vector<Bytes>{}, root1, root2).ok());
    }
  }
}

TEST(MerkleTest, FrontierReportsEveryCompletedNodeAndReloads) {
  const auto leaves = Leaves(37);
  MemoryTree tree;
  Frontier f;
  for (const auto& h : leaves) {
    std::vector<Frontier::NewNode> made;
    f.Append(h, &made);
    tree.Append(h);
    for (const auto& n : made) EXPECT_EQ(*tree.Node(n.level, n.index), n.hash);
    auto reloaded = Frontier::Load(tree, tree.size());
    ASSERT_TRUE(reloaded.ok());
    EXPECT_EQ(reloaded->Root(), f.Root());
    EXPECT_EQ(f.Root(), RefRoot(leaves, 0, tree.size()));
  }
}

}  // namespace
}  // namespace mash::audit
