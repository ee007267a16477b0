#include "mash/cli/secrets.h"

#include <string_view>

#include "mash/common/clock.h"
#include "mash/common/encoding.h"
#include "mash/common/private_file.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"

namespace mash::cli {
namespace {

constexpr size_t kMaxTokenFileBytes = 4096;
constexpr size_t kMaxTokenLength = 256;  // the broker refuses longer tokens

}  // namespace

Result<std::string> ReadTokenFile(const std::filesystem::path& path) {
  Result<std::string> read = common::ReadPrivateFile(path, kMaxTokenFileBytes);
  if (!read.ok()) {
    const Status st = read.status().WithContext("token file");
    // ReadTokenFile has always reported a token file it cannot open or read as
    // FailedPrecondition (a fault of the file, not a service to retry); keep that contract.
    if (st.code() == StatusCode::kUnavailable) return FailedPrecondition(st.message());
    return st;
  }
  std::string& text = *read;
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  std::string token = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  crypto::Wipe({reinterpret_cast<uint8_t*>(text.data()), text.size()});
  if (token.empty() || token.size() > kMaxTokenLength) {
    return InvalidArgument("token file " + path.string() + " holds no usable token");
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      // The token goes into an HTTP header; anything else could split it.
      return InvalidArgument("token file " + path.string() +
                             " holds characters a token may not have");
    }
  }
  return token;
}

std::string TokenSha256(std::string_view token) {
  return common::HexEncode(crypto::Sha256(common::AsBytes(token)));
}

Result<std::string> WriteNewTokenFile(const std::filesystem::path& path, bool overwrite) {
  crypto::SecureBuffer raw(kTokenBytes);
  common::SystemRandom().Fill(raw.span());
  // Hex in secure memory too; the trailing newline makes the file pleasant to cat.
  crypto::SecureBuffer text(kTokenBytes * 2 + 1);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kTokenBytes; ++i) {
    text.data()[2 * i] = static_cast<uint8_t>(kHex[raw.data()[i] >> 4]);
    text.data()[2 * i + 1] = static_cast<uint8_t>(kHex[raw.data()[i] & 0xf]);
  }
  text.data()[kTokenBytes * 2] = '\n';
  const std::string_view token(reinterpret_cast<const char*>(text.data()), kTokenBytes * 2);

  MASH_RETURN_IF_ERROR(common::WritePrivateFile(path, common::AsString(text.span()), overwrite)
                           .WithContext("token file"));
  return TokenSha256(token);
}

}  // namespace mash::cli
