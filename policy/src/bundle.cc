#include "mash/policy/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mash/common/encoding.h"

namespace mash::policy {
namespace {

using nlohmann::json;

constexpr char kSignatureDomain[] = "MASH-POLICY-SIGNATURE-V1\n";
constexpr size_t kMaxBundleBytes = 4 * kMaxPolicyBytes;

}  // namespace

std::string Bundle::ToJson() const {
  json sigs = json::array();
  for (const auto& s : signatures)
    sigs.push_back({{"alg", "ed25519"}, {"key", s.key}, {"sig", s.sig}});
  json j = {{"format", kBundleFormat},
            {"name", name},
            {"source", source},
            {"version", version},
            {"signatures", sigs}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Bundle> Bundle::FromJson(std::string_view text) {
  if (text.size() > kMaxBundleBytes) return InvalidArgument("bundle larger than 4 MiB");
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("bundle is not a JSON object");
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  if (str("format") != std::optional<std::string>(kBundleFormat)) {
    return InvalidArgument(std::string("bundle format is not ") + kBundleFormat);
  }
  Bundle b;
  auto name = str("name");
  auto source = str("source");
  auto version = str("version");
  if (!name || !source || !version) {
    return InvalidArgument("bundle lacks name, source or version");
  }
  b.name = *name;
  b.source = *source;
  b.version = *version;
  auto it = j.find("signatures");
  if (it != j.end()) {
    if (!it->is_array()) return InvalidArgument("bundle signatures must be a list");
    for (const auto& s : *it) {
      if (!s.is_object() || s.value("alg", "") != "ed25519" || !s.contains("key") ||
          !s["key"].is_string() || !s.contains("sig") || !s["sig"].is_string()) {
        return InvalidArgument("bundle has a malformed signature entry");
      }
      b.signatures.push_back({s["key"].get<std::string>(), s["sig"].get<std::string>()});
    }
  }
  return b;
}

std::string SignatureMessage(std::string_view version, std::string_view source) {
  return std::string(kSignatureDomain) + std::string(version) + "\n" +
         common::HexEncode(crypto::Sha256(common::AsBytes(source)));
}

Result<Bundle> MakeBundle(std::string_view source, std::string_view name) {
  MASH_ASSIGN_OR_RETURN(Policy p, ParsePolicyOrError(source, name));
  Bundle b;
  b.name = std::string(name);
  b.source = std::string(source);
  b.version = p.version;
  return b;
}

void SignBundle(Bundle& bundle, const crypto::SigningKey& key) {
  const std::string fp = key.Public().Fingerprint();
  const std::string msg = SignatureMessage(bundle.version, bundle.source);
  const auto sig = key.Sign(common::AsBytes(msg));
  std::erase_if(bundle.signatures, [&](const BundleSignature& s) { return s.key == fp; });
  bundle.signatures.push_back({fp, common::Base64Encode(sig)});
  std::sort(bundle.signatures.begin(), bundle.signatures.end(),
            [](const BundleSignature& a, const BundleSignature& b) { return a.key < b.key; });
}

Result<LoadedPolicy> VerifyBundle(const Bundle& bundle,
                                  const std::vector<crypto::SigningPublicKey>& trusted,
                                  const ParseOptions& options) {
  ParseOutcome parsed = ParsePolicy(bundle.source, bundle.name, options);
  if (!parsed.ok()) {
    std::string msg = parsed.ToString();
    if (!msg.empty()) msg.pop_back();
    return InvalidArgument(msg);
  }
  LoadedPolicy out;
  out.policy = std::move(*parsed.policy);
  for (auto& d : parsed.diagnostics) out.warnings.push_back(std::move(d));
  if (out.policy.version != bundle.version) {
    return DataLoss("bundle " + bundle.name + " claims version " + bundle.version +
                    " but its source is version " + out.policy.version + " (tampered)");
  }
  if (!trusted.empty()) {
    if (bundle.signatures.empty()) {
      return Unauthenticated("bundle " + bundle.name +
                             " is unsigned, and signing keys are configured: refused");
    }
    const std::string msg = SignatureMessage(bundle.version, bundle.source);
    for (const auto& s : bundle.signatures) {
      const auto key = std::find_if(trusted.begin(), trusted.end(),
                                    [&](const auto& k) { return k.Fingerprint() == s.key; });
      if (key == trusted.end()) continue;
      const auto sig = common::Base64Decode(s.sig);
      if (!sig || sig->size() != crypto::kSignatureSize ||
          !crypto::VerifySignature(*key, common::AsBytes(msg), *sig).ok()) {
        return Unauthenticated("bundle " + bundle.name + ": the signature by " + s.key +
                               " does not verify (tampered): refused");
      }
      out.signers.push_back(s.key);
    }
    if (out.signers.empty()) {
      return Unauthenticated("bundle " + bundle.name +
                             " is not signed by any trusted key (signed by " +
                             bundle.signatures.front().key + "): refused");
    }
  }
  out.bundle = bundle;
  return out;
}

Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path.string());
  std::string text(limit + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Unavailable("cannot read " + path.string());
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > limit) return ResourceExhausted(path.string() + " is too large");
  return text;
}

Result<LoadedPolicy> LoadPolicy(const std::filesystem::path& path,
                                const std::vector<crypto::SigningPublicKey>& trusted,
                                const ParseOptions& options) {
  MASH_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxBundleBytes));
  if (path.extension() == ".json") {
    auto bundle = Bundle::FromJson(text);
    if (!bundle.ok()) return bundle.status().WithContext(path.string());
    return VerifyBundle(*bundle, trusted, options);
  }
  if (!trusted.empty()) {
    return Unauthenticated(path.string() +
                           " is an unsigned policy source, and signing keys are configured: "
                           "refused (sign it with `mashctl policy sign`)");
  }
  Bundle b;
  b.name = path.string();
  b.source = std::move(text);
  ParseOutcome parsed = ParsePolicy(b.source, b.name, options);
  if (!parsed.ok()) {
    std::string msg = parsed.ToString();
    if (!msg.empty()) msg.pop_back();
    return InvalidArgument(msg);
  }
  b.version = parsed.policy->version;
  LoadedPolicy out;
  out.policy = std::move(*parsed.policy);
  out.warnings = std::move(parsed.diagnostics);
  out.bundle = std::move(b);
  return out;
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    return Unavailable("cannot create a file in " + dir.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      return Unavailable("cannot write " + path.string() + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return Unavailable("cannot sync " + path.string());
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmpl.c_str());
    return Unavailable("cannot rename into " + path.string() + ": " + err);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace mash::policy
