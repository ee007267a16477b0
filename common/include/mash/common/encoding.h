// Byte encodings used on the wire and in files: base64 (RFC 4648, with padding) and hex.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mash::common {

using Bytes = std::vector<uint8_t>;

std::string Base64Encode(std::span<const uint8_t> data);
// nullopt on any character outside the alphabet, bad padding or trailing garbage.
std::optional<Bytes> Base64Decode(std::string_view text);
std::string HexEncode(std::span<const uint8_t> data);
std::optional<Bytes> HexDecode(std::string_view text);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsString(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace mash::common
