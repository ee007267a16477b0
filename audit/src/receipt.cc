#include "mash/audit/receipt.h"

#include "mash/audit/checkpoint.h"

namespace mash::audit {
namespace {

constexpr size_t kMaxProofElements = 64;

nlohmann::json ProofToJson(const std::vector<Hash>& proof) {
  nlohmann::json a = nlohmann::json::array();
  for (const Hash& h : proof) a.push_back(common::Base64Encode(h));
  return a;
}

std::optional<Hash> HashFromJson(const nlohmann::json& j) {
  if (!j.is_string()) return std::nullopt;
  auto b = common::Base64Decode(j.get<std::string>());
  if (!b) return std::nullopt;
  return HashFromBytes(*b);
}

std::optional<std::vector<Hash>> ProofFromJson(const nlohmann::json& j) {
  if (!j.is_array() || j.size() > kMaxProofElements) return std::nullopt;
  std::vector<Hash> out;
  for (const auto& e : j) {
    auto h = HashFromJson(e);
    if (!h) return std::nullopt;
    out.push_back(*h);
  }
  return out;
}

// A non-negative integer, whether nlohmann holds it as signed (built in memory) or unsigned
// (parsed from text).
std::optional<uint64_t> UnsignedFromJson(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

}  // namespace

nlohmann::json Receipt::ToJson() const {
  nlohmann::json j;
  j["version"] = 1;
  j["seq"] = seq;
  j["leaf_hash"] = common::Base64Encode(leaf_hash);
  j["inclusion"] = ProofToJson(inclusion);
  j["checkpoint"] = checkpoint;
  if (consistency) {
    j["consistency"] = {{"from", consistency->from}, {"proof", ProofToJson(consistency->proof)}};
  }
  return j;
}

Result<Receipt> Receipt::FromJson(const nlohmann::json& j) {
  const Status bad = InvalidArgument("malformed receipt");
  if (!j.is_object()) return bad;
  auto version = j.find("version");
  if (version == j.end() || UnsignedFromJson(*version) != std::optional<uint64_t>(1)) return bad;
  Receipt r;
  auto seq = j.find("seq");
  if (seq == j.end()) return bad;
  const auto seq_value = UnsignedFromJson(*seq);
  if (!seq_value) return bad;
  r.seq = *seq_value;
  auto leaf = j.find("leaf_hash");
  if (leaf == j.end()) return bad;
  auto leaf_hash = HashFromJson(*leaf);
  if (!leaf_hash) return bad;
  r.leaf_hash = *leaf_hash;
  auto inclusion = j.find("inclusion");
  if (inclusion == j.end()) return bad;
  auto proof = ProofFromJson(*inclusion);
  if (!proof) return bad;
  r.inclusion = std::move(*proof);
  auto cp = j.find("checkpoint");
  if (cp == j.end() || !cp->is_string() ||
      cp->get_ref<const std::string&>().size() > kMaxCheckpointBytes) {
    return bad;
  }
  r.checkpoint = cp->get<std::string>();
  auto cons = j.find("consistency");
  if (cons != j.end()) {
    if (!cons->is_object()) return bad;
    auto from = cons->find("from");
    auto cproof = cons->find("proof");
    if (from == cons->end() || cproof == cons->end()) return bad;
    const auto from_value = UnsignedFromJson(*from);
    auto p = ProofFromJson(*cproof);
    if (!from_value || !p) return bad;
    r.consistency = ConsistencyFrom{*from_value, std::move(*p)};
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "version" && k != "seq" && k != "leaf_hash" && k != "inclusion" && k != "checkpoint" &&
        k != "consistency") {
      return bad;
    }
  }
  return r;
}

}  // namespace mash::audit
