#include "mash/crypto/envelope.h"

#include <sodium.h>

#include <cassert>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace mash::crypto {
namespace {

using nlohmann::json;

constexpr std::string_view kSignedBytesDomain = "MASH-ENVELOPE-V1";
constexpr size_t kContentKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kSealedKeySize = kContentKeySize + crypto_box_SEALBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
// Each SignedBytes field carries a 4-byte length.
constexpr size_t kMaxFieldSize = std::numeric_limits<uint32_t>::max();

static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kNonceSize);
static_assert(kContentKeySize == 32);

// The header field names, in canonical (sorted) order. Decode accepts exactly these.
constexpr std::string_view kHeaderFields[] = {
    "check_ref", "consent",       "expires_at",  "id",
    "issued_at", "lawful_basis",  "policy_hash", "purpose",
    "recipient", "recipient_key", "sender",      "sender_key",
    "sequence",  "type",          "urgency",     "version"};

json HeaderToJson(const EnvelopeHeader& h) {
  // nlohmann's default object is a std::map, so dump() emits keys in sorted order.
  return json{{"version", h.version},
              {"type", h.type},
              {"id", h.id},
              {"sender", h.sender},
              {"sender_key", h.sender_key},
              {"recipient", h.recipient},
              {"recipient_key", h.recipient_key},
              {"issued_at", h.issued_at},
              {"expires_at", h.expires_at},
              {"sequence", h.sequence},
              {"check_ref", h.check_ref},
              {"purpose", h.purpose},
              {"lawful_basis", h.lawful_basis},
              {"consent", h.consent},
              {"urgency", h.urgency},
              {"policy_hash", h.policy_hash}};
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool GetString(const json& j, const char* name, std::string& out) {
  const json& v = j.at(name);
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}

bool GetInt64(const json& j, const char* name, int64_t& out) {
  const json& v = j.at(name);
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  return false;  // floats, strings, booleans, null
}

bool GetUint64(const json& j, const char* name, uint64_t& out) {
  const json& v = j.at(name);
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return false;
    out = static_cast<uint64_t>(i);
    return true;
  }
  return false;
}

// Saturating, so that hostile times near the int64 limits cannot overflow the window checks.
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// Writes a 4-byte big-endian length and the field at `out`; returns the position after it.
uint8_t* PutField(uint8_t* out, std::span<const uint8_t> field) {
  if (field.size() > kMaxFieldSize) {
    // Seal and Open refuse such sizes before they get here; reaching this is our bug.
    std::fputs("fatal: envelope field larger than 4 GiB\n", stderr);
    std::abort();
  }
  const auto n = static_cast<uint32_t>(field.size());
  *out++ = static_cast<uint8_t>(n >> 24);
  *out++ = static_cast<uint8_t>(n >> 16);
  *out++ = static_cast<uint8_t>(n >> 8);
  *out++ = static_cast<uint8_t>(n);
  if (!field.empty()) std::memcpy(out, field.data(), field.size());
  return out + field.size();
}

std::optional<Bytes> DecodeField(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return common::Base64Decode(it->get_ref<const std::string&>());
}

Status Reject(std::string reason) { return Unauthenticated(std::move(reason)); }

}  // namespace

// ---- header ----

std::string EnvelopeHeader::Encode() const {
  // Invalid UTF-8 is replaced rather than thrown: Encode cannot fail. Seal refuses such headers
  // before it gets here, so what is signed is always what the fields say.
  return HeaderToJson(*this).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<EnvelopeHeader> EnvelopeHeader::Decode(std::string_view bytes) {
  if (bytes.size() > kMaxHeaderBytes) return InvalidArgument("header too large");
  const json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("header is not a JSON object");
  if (j.size() != std::size(kHeaderFields)) return InvalidArgument("header has wrong fields");
  for (std::string_view f : kHeaderFields) {
    if (!j.contains(f)) return InvalidArgument("header has wrong fields");
  }

  EnvelopeHeader h;
  int64_t version = 0;
  if (!GetInt64(j, "version", version) || version < std::numeric_limits<int>::min() ||
      version > std::numeric_limits<int>::max()) {
    return InvalidArgument("header field version has the wrong type");
  }
  h.version = static_cast<int>(version);
  struct StringField {
    const char* name;
    std::string* out;
  };
  const StringField strings[] = {{"type", &h.type},
                                 {"id", &h.id},
                                 {"sender", &h.sender},
                                 {"sender_key", &h.sender_key},
                                 {"recipient", &h.recipient},
                                 {"recipient_key", &h.recipient_key},
                                 {"check_ref", &h.check_ref},
                                 {"purpose", &h.purpose},
                                 {"lawful_basis", &h.lawful_basis},
                                 {"consent", &h.consent},
                                 {"urgency", &h.urgency},
                                 {"policy_hash", &h.policy_hash}};
  for (const auto& f : strings) {
    if (!GetString(j, f.name, *f.out)) {
      return InvalidArgument(std::string("header field ") + f.name + " has the wrong type");
    }
  }
  if (!GetInt64(j, "issued_at", h.issued_at)) {
    return InvalidArgument("header field issued_at has the wrong type");
  }
  if (!GetInt64(j, "expires_at", h.expires_at)) {
    return InvalidArgument("header field expires_at has the wrong type");
  }
  if (!GetUint64(j, "sequence", h.sequence)) {
    return InvalidArgument("header field sequence has the wrong type");
  }
  if (h.id.size() != 32 || !IsLowerHex(h.id)) {
    return InvalidArgument("header id must be 32 lower-case hex digits");
  }
  // One header, one byte string: rejecting every other spelling (whitespace, key order,
  // duplicate keys, escapes) leaves no room for two parsers to read the same bytes differently.
  if (h.Encode() != bytes) return InvalidArgument("header is not in canonical form");
  return h;
}

// ---- sealed envelope ----

nlohmann::json SealedEnvelope::ToJson() const {
  return json{{"header", common::Base64Encode(header)},
              {"key", common::Base64Encode(key)},
              {"nonce", common::Base64Encode(nonce)},
              {"body", common::Base64Encode(body)},
              {"sig", common::Base64Encode(sig)}};
}

Result<SealedEnvelope> SealedEnvelope::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgument("envelope is not a JSON object");
  if (j.size() != 5) return InvalidArgument("envelope has wrong fields");
  SealedEnvelope env;
  struct Field {
    const char* name;
    Bytes* out;
  };
  const Field fields[] = {{"header", &env.header},
                          {"key", &env.key},
                          {"nonce", &env.nonce},
                          {"body", &env.body},
                          {"sig", &env.sig}};
  for (const auto& f : fields) {
    std::optional<Bytes> b = DecodeField(j, f.name);
    if (!b) return InvalidArgument(std::string("envelope field ") + f.name + " missing or invalid");
    *f.out = std::move(*b);
  }
  if (env.header.empty() || env.header.size() > kMaxHeaderBytes) {
    return InvalidArgument("envelope header has the wrong size");
  }
  if (env.key.size() != kSealedKeySize) return InvalidArgument("envelope key has the wrong size");
  if (env.nonce.size() != kNonceSize) return InvalidArgument("envelope nonce has the wrong size");
  if (env.body.size() < kTagSize || env.body.size() > kMaxFieldSize) {
    return InvalidArgument("envelope body has the wrong size");
  }
  if (env.sig.size() != kSignatureSize) return InvalidArgument("envelope sig has the wrong size");
  return env;
}

std::array<uint8_t, 32> SealedEnvelope::Hash() const {
  return Sha256(SignedBytes(header, key, nonce, body));
}

Bytes SignedBytes(std::span<const uint8_t> header, std::span<const uint8_t> key,
                  std::span<const uint8_t> nonce, std::span<const uint8_t> body) {
  // Sized once and filled in place (docs/envelope.md: domain, 0x00, four length-prefixed fields).
  Bytes out(kSignedBytesDomain.size() + 1 + 4 * 4 + header.size() + key.size() + nonce.size() +
            body.size());
  uint8_t* p = out.data();
  std::memcpy(p, kSignedBytesDomain.data(), kSignedBytesDomain.size());
  p += kSignedBytesDomain.size();
  *p++ = 0x00;
  p = PutField(p, header);
  p = PutField(p, key);
  p = PutField(p, nonce);
  p = PutField(p, body);
  assert(p == out.data() + out.size());
  return out;
}

// ---- seal ----

Result<SealedEnvelope> Seal(const EnvelopeHeader& header, std::span<const uint8_t> plaintext,
                            const SigningKey& sender, const EncryptionPublicKey& recipient,
                            common::RandomSource& random) {
  // Refuse to sign anything Open would refuse to parse, and anything Encode would have to alter.
  std::string header_bytes;
  try {
    header_bytes = HeaderToJson(header).dump();
  } catch (const json::exception&) {
    return InvalidArgument("header fields must be valid UTF-8");
  }
  if (!EnvelopeHeader::Decode(header_bytes).ok()) {
    return InvalidArgument("header invalid (id must be 32 lower-case hex; size limit)");
  }
  if (header.sender_key != sender.Public().Fingerprint()) {
    return InvalidArgument("header sender_key is not the fingerprint of the signing key");
  }
  if (header.recipient_key != recipient.Fingerprint()) {
    return InvalidArgument("header recipient_key is not the fingerprint of the recipient key");
  }
  if (plaintext.size() > kMaxFieldSize - kTagSize) return InvalidArgument("plaintext too large");

  SealedEnvelope env;
  env.header.assign(header_bytes.begin(), header_bytes.end());

  SecureBuffer content_key(kContentKeySize);
  random.Fill(content_key.span());
  env.nonce.resize(kNonceSize);
  random.Fill(env.nonce);

  env.body.resize(plaintext.size() + kTagSize);
  unsigned long long body_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(env.body.data(), &body_len, plaintext.data(),
                                             plaintext.size(), env.header.data(), env.header.size(),
                                             nullptr, env.nonce.data(), content_key.data());
  env.body.resize(body_len);
  env.key = SealTo(recipient, content_key.span());
  // content_key is wiped by its destructor.

  const auto sig = sender.Sign(SignedBytes(env.header, env.key, env.nonce, env.body));
  env.sig.assign(sig.begin(), sig.end());
  return env;
}

// ---- open ----

Result<OpenedEnvelope> Open(const SealedEnvelope& envelope, const OpenExpectations& expect,
                            ReplayGuard& replay) {
  if (expect.sender_key == nullptr || expect.self_key == nullptr) {
    return Internal("open: expected keys not given");
  }
  // 1. The signature, before a single header byte is interpreted.
  if (envelope.header.size() > kMaxFieldSize || envelope.key.size() > kMaxFieldSize ||
      envelope.nonce.size() > kMaxFieldSize || envelope.body.size() > kMaxFieldSize) {
    return Reject("malformed envelope");
  }
  const Bytes signed_bytes =
      SignedBytes(envelope.header, envelope.key, envelope.nonce, envelope.body);
  if (!VerifySignature(*expect.sender_key, signed_bytes, envelope.sig).ok()) {
    return Reject("signature invalid");
  }
  if (envelope.key.size() != kSealedKeySize || envelope.nonce.size() != kNonceSize ||
      envelope.body.size() < kTagSize) {
    return Reject("malformed envelope");
  }

  // 2. The header: parsed only now that its bytes are known to come from the sender.
  Result<EnvelopeHeader> decoded = EnvelopeHeader::Decode(common::AsString(envelope.header));
  if (!decoded.ok()) return Reject("malformed envelope");
  EnvelopeHeader& h = *decoded;
  if (h.version != kEnvelopeVersion) return Reject("unsupported version");
  if (h.type.empty()) return Reject("malformed envelope");

  // 3. Identities: who sent it comes from the connection, not from the header.
  if (h.sender != expect.sender) return Reject("wrong sender");
  if (h.sender_key != expect.sender_key->Fingerprint()) return Reject("wrong sender key");
  if (h.recipient != expect.self_id) return Reject("wrong recipient");
  if (h.recipient_key != expect.self_key->Public().Fingerprint()) {
    return Reject("wrong recipient key");
  }

  // 4. The time window.
  if (h.issued_at > SatAdd(expect.now, kMaxClockSkewSeconds)) return Reject("not yet valid");
  if (expect.now > SatAdd(h.expires_at, kMaxClockSkewSeconds)) return Reject("expired");
  int64_t lifetime = 0;
  if (__builtin_sub_overflow(h.expires_at, h.issued_at, &lifetime) ||
      lifetime > kMaxLifetimeSeconds) {
    return Reject("lifetime too long");
  }
  if (lifetime <= 0) return Reject("invalid lifetime");

  // 5. Replay: the id must be remembered for as long as the message could still be accepted.
  const Status seen =
      replay.CheckAndRecord(h.sender, h.id, h.sequence, SatAdd(h.expires_at, kMaxClockSkewSeconds));
  if (!seen.ok()) {
    if (seen.code() == StatusCode::kAlreadyExists) return Reject("replayed");
    // A value the guard cannot store (a sequence above INT64_MAX) is the sender's fault.
    if (seen.code() == StatusCode::kInvalidArgument) return Reject("malformed envelope");
    // Without a working replay cache nothing may be accepted: the caller must refuse.
    return Unavailable("replay guard unavailable");
  }

  // 6. Decryption.
  Result<SecureBuffer> content_key = expect.self_key->Unseal(envelope.key);
  if (!content_key.ok() || content_key->size() != kContentKeySize) {
    return Reject("decryption failed");
  }
  OpenedEnvelope opened;
  opened.plaintext = SecureBuffer(envelope.body.size() - kTagSize);
  uint8_t empty = 0;  // libsodium wants a pointer even for an empty plaintext
  unsigned long long plain_len = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      opened.plaintext.empty() ? &empty : opened.plaintext.data(), &plain_len, nullptr,
      envelope.body.data(), envelope.body.size(), envelope.header.data(), envelope.header.size(),
      envelope.nonce.data(), content_key->data());
  // content_key (a SecureBuffer) is wiped when it goes out of scope here.
  if (rc != 0 || plain_len != opened.plaintext.size()) return Reject("decryption failed");

  opened.header = std::move(h);
  opened.hash = Sha256(signed_bytes);
  return opened;
}

}  // namespace mash::crypto
