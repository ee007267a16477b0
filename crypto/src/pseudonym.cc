#include "mash/crypto/pseudonym.h"

#include <sodium.h>

#include "mash/common/encoding.h"

namespace mash::crypto {
namespace {

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool IsAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
unsigned char AsciiUpper(unsigned char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<unsigned char>(c - 'a' + 'A') : c;
}

// Names keep their punctuation ("O'NEIL", "SMITH-JONES" are different people from "ONEIL"),
// so only case and whitespace are normalised for them.
bool IsNameKind(std::string_view kind) { return kind.starts_with("name"); }

}  // namespace

// Rules (byte-wise; identifiers are ASCII, other bytes pass through unchanged so that distinct
// non-ASCII inputs never collapse into one):
//   identifier kinds: ASCII letters upper-cased, digits kept, every other ASCII byte (spaces,
//     hyphens, dots, slashes, ...) dropped: "943 476 5919" and "943-476-5919" -> "9434765919".
//   name kinds ("name", "name_dob", ...): ASCII letters upper-cased, each run of ASCII
//     whitespace folded to one space, leading and trailing whitespace dropped.
std::string NormaliseIdentifier(std::string_view kind, std::string_view value) {
  std::string out;
  out.reserve(value.size());
  if (IsNameKind(kind)) {
    bool pending_space = false;
    for (unsigned char c : value) {
      if (IsAsciiSpace(c)) {
        pending_space = !out.empty();
        continue;
      }
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.push_back(static_cast<char>(AsciiUpper(c)));
    }
    return out;
  }
  for (unsigned char c : value) {
    if (c >= 0x80 || IsAsciiAlnum(c)) out.push_back(static_cast<char>(AsciiUpper(c)));
  }
  return out;
}

Result<Pseudonymiser> Pseudonymiser::Create(SecureBuffer key) {
  if (key.size() != crypto_auth_hmacsha256_KEYBYTES) {
    return InvalidArgument("pseudonym key must be 32 bytes");
  }
  return Pseudonymiser(std::move(key));
}

std::string Pseudonymiser::Pseudonym(std::string_view kind, std::string_view value) const {
  // The identifier is personal data: the normalised copy is wiped once it has been hashed.
  std::string normalised = NormaliseIdentifier(kind, value);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key_.data(), key_.size());
  // The 0x00 separates kind from value so that no (kind, value) pair can collide with another.
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(kind.data()),
                                kind.size());
  const unsigned char separator = 0x00;
  crypto_auth_hmacsha256_update(&state, &separator, 1);
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(normalised.data()),
                                normalised.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(&state, sizeof state);
  sodium_memzero(normalised.data(), normalised.size());
  std::string out = "ps1:" + common::HexEncode(mac);
  sodium_memzero(mac, sizeof mac);
  return out;
}

}  // namespace mash::crypto
