// Private files: small files that hold secrets (key files, bearer tokens), written so that no
// other user can ever read them and read only when no other user could have read or changed them.
//
// Writing (WritePrivateFile): the data goes to a temporary file ".<name>.tmp-<random hex>" in the
// same folder, created with O_EXCL | O_NOFOLLOW, set to mode 0600 with fchmod (so the umask never
// matters), written, fsynced and closed; it is then renamed over `path` (overwrite) or moved into
// place without replacing anything (renameat2 RENAME_NOREPLACE, or link(2) where the file system
// lacks it), and the folder is fsynced so that the new name survives a crash. A reader therefore
// sees the old file or the new one, never a torn one, and a failed write leaves no temporary file.
//
// Reading (ReadPrivateFile, ReadPrivateFileInto): the file is opened with O_NOFOLLOW and
// O_NONBLOCK and checked with fstat on the open descriptor, so the file checked is the file read:
// a symbolic link, a directory, a FIFO or a device is refused, and so is a file whose mode grants
// any permission to group or others (mode & 077). At most a stated number of bytes is read.
//
// FileAccess::kWorldReadable is for the public halves that live beside secret files (public key
// files): written 0644 less the umask, and read without the mode check; everything else is the
// same.
//
// Messages name the path and, for I/O errors, the errno text; they never quote the file's content.
// Callers add what the file is, e.g. `.WithContext("key file")`.
//
// Thread safety: free functions, safe from any thread. Two writers racing to create the same path
// without `overwrite` cannot both succeed: one gets AlreadyExists. Files are otherwise the
// caller's to coordinate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "mash/common/status.h"

namespace mash::common {

enum class FileAccess {
  kOwnerOnly,      // written 0600 whatever the umask; read refused when mode & 077
  kWorldReadable,  // written 0644 less the umask; read whatever the mode
};

// Writes `data` to `path` atomically, as described above. Returns OK once the file and its folder
// entry are on disk. Errors:
//   InvalidArgument  `path` names no file (empty, or ends in a separator);
//   AlreadyExists    `path` exists (as anything, even a dangling symlink) and `overwrite` is
//                    false, checked first and again, atomically, when moving into place; the
//                    existing file is left unchanged;
//   Unavailable      any I/O error ("cannot write <path>: <errno text>"), e.g. a missing folder
//                    or a full disk. If only the final fsync of the folder fails, the new file is
//                    already in place.
// With `overwrite`, an existing file is replaced (not rewritten), so its old mode does not carry
// over. The temporary name is random (libsodium; initialised here if it was not).
Status WritePrivateFile(const std::filesystem::path& path, std::string_view data, bool overwrite,
                        FileAccess access = FileAccess::kOwnerOnly);

// Reads the whole of `path` into `out` and returns how many bytes it holds (the first ones of
// `out`); out.size() is the cap. Use it to read secrets straight into locked, wiped memory (a
// crypto::SecureBuffer's span): common does not depend on crypto, and filling a buffer the caller
// owns keeps the bytes out of any allocation made here. On error, `out` may hold part of the file;
// the caller wipes it as it wipes any secret. Errors:
//   NotFound            `path` does not exist;
//   FailedPrecondition  `path` is a symbolic link, or not a regular file (directory, FIFO,
//                       device), or, with kOwnerOnly, its mode grants group or others any
//                       permission (the message says "chmod 600");
//   InvalidArgument     the file holds more than out.size() bytes;
//   Unavailable         any other error opening, checking or reading it (e.g. EACCES, EIO).
Result<size_t> ReadPrivateFileInto(const std::filesystem::path& path, std::span<uint8_t> out,
                                   FileAccess access = FileAccess::kOwnerOnly);

// ReadPrivateFile is ReadPrivateFileInto for callers that keep the text in a std::string: returns
// the whole file, with the same errors, InvalidArgument when it holds more than `max_bytes`.
// Allocates max_bytes up front, so it is meant for small files; the buffer is wiped on error.
Result<std::string> ReadPrivateFile(const std::filesystem::path& path, size_t max_bytes,
                                    FileAccess access = FileAccess::kOwnerOnly);

}  // namespace mash::common
