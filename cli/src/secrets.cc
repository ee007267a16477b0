#include "mash/cli/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include "mash/common/clock.h"
#include "mash/common/encoding.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"

namespace mash::cli {
namespace {

constexpr size_t kMaxTokenFileBytes = 4096;
constexpr size_t kMaxTokenLength = 256;  // the broker refuses longer tokens

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
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable(ErrnoText(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadTokenFile(const std::filesystem::path& path) {
  // Checked on the open descriptor, so the file checked is the file read.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("token file not found: " + path.string());
    return FailedPrecondition("cannot open token file " + path.string() + ": " + ErrnoText(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return FailedPrecondition("token file is not a regular file: " + path.string());
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition("token file " + path.string() +
                              " must not be accessible by group or others (chmod 600)");
  }
  if (st.st_size <= 0 || static_cast<size_t>(st.st_size) > kMaxTokenFileBytes) {
    return InvalidArgument("token file " + path.string() + " is empty or too large");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
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
  if (path.filename().empty()) return InvalidArgument("token file path names no file");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!overwrite) return AlreadyExists("token file " + path.string() + " already exists");
  } else if (errno != ENOENT) {
    return Unavailable("cannot stat " + path.string() + ": " + ErrnoText(errno));
  }

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

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + common::SystemRandom().Hex(8));
  const std::string what = "cannot write token file " + path.string() + ": ";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Unavailable(what + ErrnoText(errno));
  const Status written = [&]() -> Status {
    // The umask can only remove bits; set 0600 so that the mode never depends on it.
    if (::fchmod(fd.get(), 0600) != 0) return Unavailable(ErrnoText(errno));
    MASH_RETURN_IF_ERROR(
        WriteAll(fd.get(), {reinterpret_cast<const char*>(text.data()), text.size()}));
    if (::fsync(fd.get()) != 0) return Unavailable(ErrnoText(errno));
    if (fd.Close() != 0) return Unavailable(ErrnoText(errno));
    if (overwrite) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable(ErrnoText(errno));
    } else {
      // link() fails when the target exists, so a file made meanwhile is never replaced.
      if (::link(tmp.c_str(), path.c_str()) != 0) {
        return errno == EEXIST ? AlreadyExists("") : Unavailable(ErrnoText(errno));
      }
      ::unlink(tmp.c_str());
    }
    return Status::Ok();
  }();
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    if (written.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("token file " + path.string() + " already exists");
    }
    return Unavailable(what + written.message());
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  // Best effort, so that the new name survives a crash.
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());
  return TokenSha256(token);
}

}  // namespace mash::cli
