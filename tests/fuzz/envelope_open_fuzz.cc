// libFuzzer target for the envelope receive path: JSON -> SealedEnvelope::FromJson -> Open, and
// EnvelopeHeader::Decode on raw bytes.
//
// Random bytes almost never carry a valid Ed25519 signature, so a second mode signs the input
// with the fixed sender key: the first input byte selects the mode, and in mode 1 the rest is
// split into header, key, nonce and body, signed, and opened. That drives header parsing, the
// identity, time-window and replay checks, and decryption with hostile but authenticated data.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "mash/common/clock.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"

namespace {

using mash::Status;
using mash::crypto::Bytes;

// Bounded so a long run does not grow without limit; forgetting old ids only loses coverage.
class FuzzGuard final : public mash::crypto::ReplayGuard {
 public:
  Status CheckAndRecord(const std::string& sender, const std::string& id, uint64_t sequence,
                        int64_t /*keep_until*/) override {
    if (ids_.size() > 10000) ids_.clear();
    if (!ids_.insert(sender + '\n' + id).second) return mash::AlreadyExists("seen");
    auto [it, inserted] = last_.emplace(sender, sequence);
    if (!inserted) {
      if (sequence <= it->second) return mash::AlreadyExists("sequence");
      it->second = sequence;
    }
    // Some ids fail closed, to exercise that path too.
    if (!id.empty() && id.back() == '0') return mash::Unavailable("store down");
    return Status::Ok();
  }

 private:
  std::set<std::string> ids_;
  std::map<std::string, uint64_t> last_;
};

struct Fixture {
  Fixture() : sender(MakeSigning()), recipient(MakeEncryption()) {
    expect.sender = "agency-a";
    expect.sender_key = &sender.Public();
    expect.self_id = "hub";
    expect.self_key = &recipient;
    expect.now = 1'800'000'000;
  }
  static mash::crypto::SigningKey MakeSigning() {
    mash::common::InitCrypto();
    return std::move(mash::crypto::SigningKey::FromSeed(Bytes(32, 0xA1))).value();
  }
  static mash::crypto::EncryptionKey MakeEncryption() {
    return std::move(mash::crypto::EncryptionKey::FromSecret(Bytes(32, 0xB2))).value();
  }

  mash::crypto::SigningKey sender;
  mash::crypto::EncryptionKey recipient;
  mash::crypto::OpenExpectations expect;
  FuzzGuard guard;
};

Fixture& GetFixture() {
  static Fixture* fixture = new Fixture();  // never destroyed: libFuzzer exits without cleanup
  return *fixture;
}

// Takes a length-prefixed (1 byte, 2 for the header) slice of `in`, or the rest when short.
std::span<const uint8_t> Take(std::span<const uint8_t>& in, size_t prefix_bytes) {
  size_t n = 0;
  for (size_t i = 0; i < prefix_bytes && !in.empty(); ++i) {
    n = (n << 8) | in.front();
    in = in.subspan(1);
  }
  n = std::min(n, in.size());
  auto out = in.first(n);
  in = in.subspan(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = GetFixture();
  const std::span<const uint8_t> input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // The header parser on its own.
  (void)mash::crypto::EnvelopeHeader::Decode(text);

  // The wire path: JSON text -> envelope -> Open. Unsigned, so Open must stop at the signature.
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    auto env = mash::crypto::SealedEnvelope::FromJson(j);
    if (env.ok()) {
      (void)env->Hash();
      (void)env->ToJson();
      (void)mash::crypto::Open(*env, f.expect, f.guard);
    }
  }

  // Authenticated but hostile contents.
  if (!input.empty() && input[0] == 1) {
    std::span<const uint8_t> rest = input.subspan(1);
    mash::crypto::SealedEnvelope env;
    const auto header = Take(rest, 2);
    const auto key = Take(rest, 1);
    const auto nonce = Take(rest, 1);
    env.header.assign(header.begin(), header.end());
    env.key.assign(key.begin(), key.end());
    env.nonce.assign(nonce.begin(), nonce.end());
    env.body.assign(rest.begin(), rest.end());
    const auto sig =
        f.sender.Sign(mash::crypto::SignedBytes(env.header, env.key, env.nonce, env.body));
    env.sig.assign(sig.begin(), sig.end());
    (void)mash::crypto::Open(env, f.expect, f.guard);
  }
  return 0;
}
