#include "mash/common/private_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "mash/common/clock.h"

namespace mash::common {
namespace {

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

// On failure errno is left as write(2) set it.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `out` is full or the file ends; returns the count, or -1 with errno set.
ssize_t ReadUpTo(int fd, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
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

Status WritePrivateFile(const std::filesystem::path& path, std::string_view data, bool overwrite,
                        FileAccess access) {
  if (path.filename().empty()) return InvalidArgument("path " + path.string() + " names no file");
  const std::string exists = path.string() + " already exists";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!overwrite) return AlreadyExists(exists);
  } else if (errno != ENOENT) {
    return Unavailable("cannot stat " + path.string() + ": " + ErrnoText(errno));
  }

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  InitCrypto();  // idempotent; the random name needs libsodium's RNG
  const std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + SystemRandom().Hex(8));

  const bool owner_only = access == FileAccess::kOwnerOnly;
  const std::string what = "cannot write " + path.string() + ": ";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               owner_only ? 0600 : 0644));
  if (fd.get() < 0) return Unavailable(what + ErrnoText(errno));
  const Status written = [&]() -> Status {
    // The umask can only remove bits; set 0600 explicitly so the mode never depends on it.
    if (owner_only && ::fchmod(fd.get(), 0600) != 0) return Unavailable(ErrnoText(errno));
    if (!WriteAll(fd.get(), data)) return Unavailable(ErrnoText(errno));
    if (::fsync(fd.get()) != 0) return Unavailable(ErrnoText(errno));
    if (fd.Close() != 0) return Unavailable(ErrnoText(errno));
    if (MoveIntoPlace(tmp, path, overwrite) != 0) {
      if (errno == EEXIST) return AlreadyExists(exists);
      return Unavailable(ErrnoText(errno));
    }
    return Status::Ok();
  }();
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    if (written.code() == StatusCode::kAlreadyExists) return written;
    return Unavailable(what + written.message());
  }
  // Without this the rename itself may not survive a crash.
  const Status synced = SyncDirectory(dir);
  if (!synced.ok()) return Unavailable(what + "sync directory: " + synced.message());
  return Status::Ok();
}

Result<size_t> ReadPrivateFileInto(const std::filesystem::path& path, std::span<uint8_t> out,
                                   FileAccess access) {
  const std::string name = path.string();
  // O_NOFOLLOW: a symlink could point us at a file whose mode we did not check.
  // O_NONBLOCK: a FIFO planted at the path must not hang us; it is refused below.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(name + " not found");
    if (err == ELOOP) return FailedPrecondition(name + " is a symbolic link, not a regular file");
    return Unavailable("cannot open " + name + ": " + ErrnoText(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return Unavailable("cannot stat " + name + ": " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(name + " is not a regular file");
  if (access == FileAccess::kOwnerOnly && (st.st_mode & 077) != 0) {
    return FailedPrecondition(name + " must not be accessible by group or others (chmod 600)");
  }

  const ssize_t len = ReadUpTo(fd.get(), out);
  if (len < 0) return Unavailable("cannot read " + name + ": " + ErrnoText(errno));
  // A full buffer may still be the whole file: only a byte beyond it makes the file too large.
  uint8_t extra = 0;
  const ssize_t more = ReadUpTo(fd.get(), {&extra, 1});
  sodium_memzero(&extra, sizeof extra);
  if (more < 0) return Unavailable("cannot read " + name + ": " + ErrnoText(errno));
  if (more > 0) {
    return InvalidArgument(name + " is larger than " + std::to_string(out.size()) + " bytes");
  }
  return static_cast<size_t>(len);
}

Result<std::string> ReadPrivateFile(const std::filesystem::path& path, size_t max_bytes,
                                    FileAccess access) {
  std::string text(max_bytes, '\0');
  Result<size_t> len =
      ReadPrivateFileInto(path, {reinterpret_cast<uint8_t*>(text.data()), text.size()}, access);
  if (!len.ok()) {
    sodium_memzero(text.data(), text.size());
    return len.status();
  }
  // Shrinking keeps the allocation, so no copy of the content is left in freed memory.
  text.resize(*len);
  return text;
}

}  // namespace mash::common
