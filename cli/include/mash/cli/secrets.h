// Secret files of `mashctl`: the bearer token a practitioner's mashctl sends to the broker, and
// the files `mashctl pki` writes.
//
// A token file holds the token on one line (64 hex digits when made by `mashctl pki token`); it
// must be a regular file with mode 0600 or stricter. The broker stores only the token's SHA-256
// (broker.toml [[api_token]] sha256).
//
// Thread safety: free functions; files are the caller's to coordinate.
#pragma once

#include <filesystem>
#include <string>

#include "mash/common/status.h"

namespace mash::cli {

inline constexpr size_t kTokenBytes = 32;

// Reads a token file. Errors: NotFound; FailedPrecondition when the file is accessible by group
// or others or is not a regular file; InvalidArgument when it is empty, too long (> 256 bytes)
// or holds anything but printable ASCII without spaces (surrounding whitespace is trimmed).
Result<std::string> ReadTokenFile(const std::filesystem::path& path);

// Makes a random token (kTokenBytes random bytes, lower-case hex), writes it to `path` with mode
// 0600 (temporary file, fsync, then link or rename into place) and returns the lower-case hex
// SHA-256 of the token text, which is what broker.toml holds. Errors: AlreadyExists when `path`
// exists and `overwrite` is false; Unavailable on I/O errors.
Result<std::string> WriteNewTokenFile(const std::filesystem::path& path, bool overwrite);

// The lower-case hex SHA-256 of `token`, as the broker computes it.
std::string TokenSha256(std::string_view token);

}  // namespace mash::cli
