#include "mash/audit/checkpoint.h"

#include <charconv>
#include <vector>

namespace mash::audit {
namespace {

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "key value" with the exact key.
std::optional<std::string_view> Value(std::string_view line, std::string_view key) {
  if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key ||
      line[key.size()] != ' ') {
    return std::nullopt;
  }
  return line.substr(key.size() + 1);
}

std::optional<Hash> ParseHash(std::string_view b64) {
  auto b = common::Base64Decode(b64);
  if (!b) return std::nullopt;
  return HashFromBytes(*b);
}

}  // namespace

bool ValidOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > 128) return false;
  for (char c : origin) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string CheckpointBody(const Checkpoint& c) {
  std::string s;
  s += kCheckpointHeader;
  s += "\norigin " + c.origin;
  s += "\nsize " + std::to_string(c.size);
  s += "\nroot " + common::Base64Encode(c.root);
  s += "\nchain " + common::Base64Encode(c.chain);
  s += "\ntime " + std::to_string(c.time_ms);
  s += "\nretained-from " + std::to_string(c.retained_from);
  s += "\n";
  return s;
}

Result<SignedCheckpoint> SignCheckpoint(const Checkpoint& c, const crypto::SigningKey& key) {
  if (!ValidOrigin(c.origin)) return InvalidArgument("checkpoint origin is invalid");
  if (c.time_ms < 0) return InvalidArgument("checkpoint time is negative");
  if (c.retained_from > c.size) return InvalidArgument("retained-from beyond the tree size");
  SignedCheckpoint out;
  out.checkpoint = c;
  const std::string body = CheckpointBody(c);
  out.signature = key.Sign(common::AsBytes(body));
  out.key_id = key.Public().Fingerprint();
  out.text = body + "\nsig " + out.key_id + " " + common::Base64Encode(out.signature) + "\n";
  return out;
}

Result<SignedCheckpoint> ParseCheckpoint(std::string_view text) {
  const Status bad = InvalidArgument("malformed checkpoint");
  if (text.size() > kMaxCheckpointBytes || text.empty() || text.back() != '\n') return bad;
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() != 9 || lines[0] != kCheckpointHeader || !lines[7].empty()) return bad;
  SignedCheckpoint out;
  Checkpoint& c = out.checkpoint;
  auto origin = Value(lines[1], "origin");
  auto size = Value(lines[2], "size");
  auto root = Value(lines[3], "root");
  auto chain = Value(lines[4], "chain");
  auto time = Value(lines[5], "time");
  auto retained = Value(lines[6], "retained-from");
  auto sig = Value(lines[8], "sig");
  if (!origin || !size || !root || !chain || !time || !retained || !sig) return bad;
  if (!ValidOrigin(*origin)) return bad;
  c.origin = std::string(*origin);
  auto size_v = ParseDecimal(*size);
  auto time_v = ParseDecimal(*time);
  auto retained_v = ParseDecimal(*retained);
  auto root_v = ParseHash(*root);
  auto chain_v = ParseHash(*chain);
  if (!size_v || !time_v || !retained_v || !root_v || !chain_v) return bad;
  if (*time_v > static_cast<uint64_t>(INT64_MAX) || *retained_v > *size_v) return bad;
  c.size = *size_v;
  c.time_ms = static_cast<int64_t>(*time_v);
  c.retained_from = *retained_v;
  c.root = *root_v;
  c.chain = *chain_v;
  const size_t space = sig->find(' ');
  if (space == std::string_view::npos) return bad;
  out.key_id = std::string(sig->substr(0, space));
  auto sig_bytes = common::Base64Decode(sig->substr(space + 1));
  if (!sig_bytes || sig_bytes->size() != crypto::kSignatureSize) return bad;
  std::copy(sig_bytes->begin(), sig_bytes->end(), out.signature.begin());
  // Canonical: re-rendering must give back the very same text.
  out.text = std::string(text);
  if (CheckpointBody(c) + "\nsig " + out.key_id + " " + common::Base64Encode(out.signature) +
          "\n" !=
      text) {
    return bad;
  }
  return out;
}

Status VerifyCheckpointSignature(const SignedCheckpoint& c, const crypto::SigningPublicKey& key) {
  if (c.key_id != key.Fingerprint()) {
    return Unauthenticated("checkpoint signed by another key");
  }
  const std::string body = CheckpointBody(c.checkpoint);
  Status s = crypto::VerifySignature(key, common::AsBytes(body), c.signature);
  if (!s.ok()) return Unauthenticated("checkpoint signature invalid");
  return Status::Ok();
}

Result<SignedCheckpoint> ParseAndVerifyCheckpoint(std::string_view text,
                                                  const crypto::SigningPublicKey& key) {
  MASH_ASSIGN_OR_RETURN(SignedCheckpoint c, ParseCheckpoint(text));
  MASH_RETURN_IF_ERROR(VerifyCheckpointSignature(c, key));
  return c;
}

}  // namespace mash::audit
