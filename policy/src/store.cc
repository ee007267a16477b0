#include "mash/policy/store.h"

#include <nlohmann/json.hpp>
#include <system_error>

namespace mash::policy {
namespace {

using nlohmann::json;

constexpr size_t kMaxHistoryBytes = 64 * 1024 * 1024;

bool IsVersionId(std::string_view v) {
  constexpr std::string_view kPrefix = "sha256:";
  if (v.size() != kPrefix.size() + 64 || v.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : v.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> ReadPointer(const std::filesystem::path& p) {
  auto text = ReadSmallFile(p, 200);
  if (!text.ok()) return std::nullopt;
  std::string v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  if (!IsVersionId(v)) return std::nullopt;
  return v;
}

json EntryJson(const HistoryEntry& e) {
  return {{"seq", e.seq},         {"time", e.time_unix},      {"mode", PublishModeName(e.mode)},
          {"version", e.version}, {"policy_id", e.policy_id}, {"signers", e.signers}};
}

}  // namespace

std::string_view PublishModeName(PublishMode m) {
  return m == PublishMode::kShadow ? "shadow" : "enforce";
}

Result<PolicyStore> PolicyStore::Open(const std::filesystem::path& dir, bool create) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (!create) return NotFound("no policy store at " + dir.string());
  }
  if (create) {
    std::filesystem::create_directories(dir / "versions", ec);
    if (ec) return Unavailable("cannot create " + dir.string() + ": " + ec.message());
  }
  return PolicyStore(dir);
}

Result<std::vector<HistoryEntry>> PolicyStore::History() const {
  std::vector<HistoryEntry> out;
  auto text = ReadSmallFile(dir_ / "history.jsonl", kMaxHistoryBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return out;
    return text.status();
  }
  size_t start = 0;
  int line_no = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    const std::string_view line(text->data() + start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    HistoryEntry e;
    bool ok = j.is_object() && j.contains("seq") && j["seq"].is_number_integer() &&
              j.contains("time") && j["time"].is_number_integer() && j.contains("mode") &&
              j["mode"].is_string() && j.contains("version") && j["version"].is_string();
    if (ok) {
      e.seq = j["seq"].get<int64_t>();
      e.time_unix = j["time"].get<int64_t>();
      const std::string mode = j["mode"].get<std::string>();
      ok = mode == "shadow" || mode == "enforce";
      e.mode = mode == "shadow" ? PublishMode::kShadow : PublishMode::kEnforce;
      e.version = j["version"].get<std::string>();
      e.policy_id = j.value("policy_id", "");
      if (j.contains("signers") && j["signers"].is_array()) {
        for (const auto& s : j["signers"]) {
          if (s.is_string()) e.signers.push_back(s.get<std::string>());
        }
      }
      ok = ok && IsVersionId(e.version);
    }
    if (!ok) {
      return DataLoss((dir_ / "history.jsonl").string() + ":" + std::to_string(line_no) +
                      ": malformed history entry");
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<HistoryEntry> PolicyStore::Publish(const Bundle& bundle, PublishMode mode, int64_t time_unix,
                                          const std::vector<crypto::SigningPublicKey>& trusted) {
  MASH_ASSIGN_OR_RETURN(LoadedPolicy loaded, VerifyBundle(bundle, trusted));
  MASH_ASSIGN_OR_RETURN(std::vector<HistoryEntry> history, History());
  if (!history.empty()) {
    if (history.back().policy_id != loaded.policy.id) {
      return FailedPrecondition("the store holds policy '" + history.back().policy_id + "', not '" +
                                loaded.policy.id + "'");
    }
    if (history.back().time_unix > time_unix) {
      return FailedPrecondition("the time of publication is before the last entry's");
    }
  }
  const std::string hex = loaded.policy.version.substr(7);
  const auto file = dir_ / "versions" / (hex + ".json");
  std::error_code ec;
  std::filesystem::create_directories(dir_ / "versions", ec);
  if (!std::filesystem::exists(file, ec)) {
    MASH_RETURN_IF_ERROR(WriteFileAtomically(file, bundle.ToJson()));
  }
  HistoryEntry e;
  e.seq = history.empty() ? 1 : history.back().seq + 1;
  e.time_unix = time_unix;
  e.mode = mode;
  e.version = loaded.policy.version;
  e.policy_id = loaded.policy.id;
  e.signers = loaded.signers;

  std::string log;
  if (auto old = ReadSmallFile(dir_ / "history.jsonl", kMaxHistoryBytes); old.ok()) log = *old;
  if (!log.empty() && log.back() != '\n') log += '\n';
  log += EntryJson(e).dump() + "\n";
  MASH_RETURN_IF_ERROR(WriteFileAtomically(dir_ / "history.jsonl", log));
  if (mode == PublishMode::kEnforce) {
    MASH_RETURN_IF_ERROR(WriteFileAtomically(dir_ / "enforced", e.version + "\n"));
    if (Shadow() == e.version) std::filesystem::remove(dir_ / "shadow", ec);
  } else {
    MASH_RETURN_IF_ERROR(WriteFileAtomically(dir_ / "shadow", e.version + "\n"));
  }
  return e;
}

Result<std::string> PolicyStore::VersionAt(int64_t time_unix) const {
  MASH_ASSIGN_OR_RETURN(std::vector<HistoryEntry> history, History());
  std::optional<std::string> version;
  for (const auto& e : history) {
    if (e.time_unix > time_unix) break;
    if (e.mode == PublishMode::kEnforce) version = e.version;
  }
  if (!version) return NotFound("no version was enforced at that time");
  return *version;
}

std::optional<std::string> PolicyStore::Enforced() const { return ReadPointer(dir_ / "enforced"); }
std::optional<std::string> PolicyStore::Shadow() const { return ReadPointer(dir_ / "shadow"); }

Result<LoadedPolicy> PolicyStore::Load(std::string_view version,
                                       const std::vector<crypto::SigningPublicKey>& trusted) const {
  if (!IsVersionId(version)) return InvalidArgument("not a version id: " + std::string(version));
  const auto file = dir_ / "versions" / (std::string(version.substr(7)) + ".json");
  MASH_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(file, 4 * kMaxPolicyBytes));
  auto bundle = Bundle::FromJson(text);
  if (!bundle.ok()) return bundle.status().WithContext(file.string());
  auto loaded = VerifyBundle(*bundle, trusted);
  if (!loaded.ok()) return loaded.status();
  if (loaded->policy.version != version) {
    return DataLoss(file.string() + " does not hold version " + std::string(version));
  }
  return loaded;
}

}  // namespace mash::policy
