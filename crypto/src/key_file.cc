// Key files: "<label>\n<base64>\n" (docs/key-files.md). Secret files are written 0600 through a
// temporary file and an atomic rename, and refused on read when group or others may access them.
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "mash/crypto/keys.h"

namespace mash::crypto {
namespace {

// Every kind holds 32 bytes: a signing key file keeps the Ed25519 seed, not libsodium's 64-byte
// expanded secret, so that the file cannot hold a public half that disagrees with the seed.
constexpr size_t kKeyFileKeyBytes = 32;
// A well-formed file is under 80 bytes; the cap bounds what a hostile file can make us read.
constexpr size_t kMaxKeyFileBytes = 1024;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error, which for a written file may be the first sign of trouble.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(ErrnoText(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDirectory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Unavailable(ErrnoText(errno));
  if (::fsync(fd.get()) != 0) return Unavailable(ErrnoText(errno));
  return Status::Ok();
}

// Moves `from` to `to`. Without `overwrite` the move fails with EEXIST rather than replace `to`,
// atomically, so that two writers cannot both believe they created the file.
int MoveIntoPlace(const std::filesystem::path& from, const std::filesystem::path& to,
                  bool overwrite) {
  if (overwrite) return ::rename(from.c_str(), to.c_str());
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // The file system has no RENAME_NOREPLACE: link(2) also refuses an existing target.
  if (::link(from.c_str(), to.c_str()) != 0) return -1;
  ::unlink(from.c_str());
  return 0;
}

}  // namespace

std::string_view KeyFileLabel(KeyKind kind) {
  switch (kind) {
    case KeyKind::kSigningSecret:
      return "MASH-ED25519-SECRET-V1";
    case KeyKind::kSigningPublic:
      return "MASH-ED25519-PUBLIC-V1";
    case KeyKind::kEncryptionSecret:
      return "MASH-X25519-SECRET-V1";
    case KeyKind::kEncryptionPublic:
      return "MASH-X25519-PUBLIC-V1";
    case KeyKind::kPseudonymKey:
      return "MASH-PSEUDONYM-KEY-V1";
    case KeyKind::kDatabaseKey:
      return "MASH-DATABASE-KEY-V1";
  }
  return "MASH-UNKNOWN";
}

bool IsSecret(KeyKind kind) {
  return kind != KeyKind::kSigningPublic && kind != KeyKind::kEncryptionPublic;
}

Status WriteKeyFile(const std::filesystem::path& path, KeyKind kind, std::span<const uint8_t> bytes,
                    bool overwrite) {
  if (bytes.size() != kKeyFileKeyBytes) {
    return InvalidArgument("key for " + std::string(KeyFileLabel(kind)) + " must be 32 bytes");
  }
  if (path.filename().empty()) return InvalidArgument("key file path names no file");
  const bool secret = IsSecret(kind);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!overwrite) return AlreadyExists("key file " + path.string() + " already exists");
  } else if (errno != ENOENT) {
    return Unavailable("cannot stat key file " + path.string() + ": " + ErrnoText(errno));
  }

  // The whole text is assembled in secure memory: the base64 form is as secret as the key.
  const std::string_view label = KeyFileLabel(kind);
  const size_t b64_len = sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  SecureBuffer text(label.size() + 1 + b64_len);  // b64_len counts a NUL, replaced by '\n'
  std::memcpy(text.data(), label.data(), label.size());
  text.data()[label.size()] = '\n';
  char* b64 = reinterpret_cast<char*>(text.data() + label.size() + 1);
  sodium_bin2base64(b64, b64_len, bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  text.data()[text.size() - 1] = '\n';

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  uint8_t rnd[8];
  randombytes_buf(rnd, sizeof rnd);
  const std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + common::HexEncode(rnd));

  const std::string what = "cannot write key file " + path.string() + ": ";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               secret ? 0600 : 0644));
  if (fd.get() < 0) return Unavailable(what + ErrnoText(errno));
  Status st_write = [&]() -> Status {
    // The umask can only remove bits; set 0600 explicitly so the mode never depends on it.
    if (secret && ::fchmod(fd.get(), 0600) != 0) return Unavailable(ErrnoText(errno));
    MASH_RETURN_IF_ERROR(WriteAll(fd.get(), text.span()));
    if (::fsync(fd.get()) != 0) return Unavailable(ErrnoText(errno));
    if (fd.Close() != 0) return Unavailable(ErrnoText(errno));
    if (MoveIntoPlace(tmp, path, overwrite) != 0) {
      if (errno == EEXIST) return AlreadyExists("");
      return Unavailable(ErrnoText(errno));
    }
    return Status::Ok();
  }();
  if (!st_write.ok()) {
    ::unlink(tmp.c_str());
    if (st_write.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("key file " + path.string() + " already exists");
    }
    return Unavailable(what + st_write.message());
  }
  // Without this the rename itself may not survive a crash.
  Status synced = SyncDirectory(dir);
  if (!synced.ok()) return Unavailable(what + "sync directory: " + synced.message());
  return Status::Ok();
}

Result<SecureBuffer> ReadKeyFile(const std::filesystem::path& path, KeyKind kind) {
  const std::string name = "key file " + path.string();
  // O_NOFOLLOW: a symlink could point a service at a file whose mode we did not check.
  // O_NONBLOCK: a FIFO planted at the path must not hang us; it is refused below.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(name + " not found");
    if (err == ELOOP) return FailedPrecondition(name + " is a symbolic link, not a regular file");
    return Unavailable("cannot open " + name + ": " + ErrnoText(err));
  }
  // fstat on the open descriptor: the file checked is the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return Unavailable("cannot stat " + name + ": " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(name + " is not a regular file");
  if (IsSecret(kind) && (st.st_mode & 077) != 0) {
    return FailedPrecondition(name + " must not be accessible by group or others (chmod 600)");
  }

  SecureBuffer text(kMaxKeyFileBytes + 1);
  size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + len, text.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable("cannot read " + name + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  if (len > kMaxKeyFileBytes) return InvalidArgument(name + " is too large");

  // Error messages never quote the file: its second line is the key.
  const std::string_view content = common::AsString(std::span<const uint8_t>(text.data(), len));
  const std::string_view label = KeyFileLabel(kind);
  const size_t nl = content.find('\n');
  if (nl == std::string_view::npos || content.substr(0, nl) != label) {
    return InvalidArgument(name + " does not start with the label " + std::string(label));
  }
  std::string_view b64 = content.substr(nl + 1);
  // One final newline is expected; tolerate its absence, nothing else.
  if (!b64.empty() && b64.back() == '\n') b64.remove_suffix(1);
  if (b64.empty() || b64.find('\n') != std::string_view::npos) {
    return InvalidArgument(name + " must hold exactly one line of base64 after the label");
  }
  SecureBuffer decoded(b64.size() / 4 * 3 + 3);
  size_t decoded_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(decoded.data(), decoded.size(), b64.data(), b64.size(), nullptr,
                        &decoded_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size()) {
    return InvalidArgument(name + " holds invalid base64");
  }
  if (decoded_len != kKeyFileKeyBytes) {
    return InvalidArgument(name + " holds a key of the wrong length (want 32 bytes)");
  }
  return SecureBuffer::CopyOf(std::span<const uint8_t>(decoded.data(), decoded_len));
}

Result<SigningKey> LoadSigningKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer seed, ReadKeyFile(path, KeyKind::kSigningSecret));
  return SigningKey::FromSeed(seed.span());
}

Result<SigningPublicKey> LoadSigningPublicKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer bytes, ReadKeyFile(path, KeyKind::kSigningPublic));
  SigningPublicKey key;
  std::copy(bytes.span().begin(), bytes.span().end(), key.bytes.begin());
  return key;
}

Result<EncryptionKey> LoadEncryptionKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer secret, ReadKeyFile(path, KeyKind::kEncryptionSecret));
  return EncryptionKey::FromSecret(secret.span());
}

Result<EncryptionPublicKey> LoadEncryptionPublicKey(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(SecureBuffer bytes, ReadKeyFile(path, KeyKind::kEncryptionPublic));
  EncryptionPublicKey key;
  std::copy(bytes.span().begin(), bytes.span().end(), key.bytes.begin());
  return key;
}

}  // namespace mash::crypto
