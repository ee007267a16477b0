#include "mash/common/private_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "mash/common/clock.h"
#include "support/temp_dir.h"

namespace mash::common {
namespace {

namespace fs = std::filesystem;

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    // A permissive umask must not make private files readable.
    old_umask_ = ::umask(0);
  }
  void TearDown() override { ::umask(old_umask_); }

  static mode_t Mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  static void WriteRaw(const fs::path& p, const std::string& text, mode_t mode) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  }
  static std::string ReadRaw(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  size_t EntryCount() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_.path()), {}));
  }

  testing::TempDir dir_;
  mode_t old_umask_ = 022;
};

TEST_F(PrivateFileTest, RoundTripsWithMode0600AndLeavesNoTemporaryFile) {
  const fs::path p = dir_ / "secret";
  const std::string data("line one\nline two\0binary\xff", 26);
  ASSERT_TRUE(WritePrivateFile(p, data, false).ok());
  EXPECT_EQ(Mode(p), 0600u);
  EXPECT_EQ(ReadRaw(p), data);
  EXPECT_EQ(EntryCount(), 1u);
  auto read = ReadPrivateFile(p, 1024);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, data);
}

TEST_F(PrivateFileTest, ReadsIntoACallerBuffer) {
  const fs::path p = dir_ / "secret";
  ASSERT_TRUE(WritePrivateFile(p, "abc", false).ok());
  uint8_t buf[8] = {};
  auto n = ReadPrivateFileInto(p, buf);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), *n), "abc");
}

TEST_F(PrivateFileTest, ReadsAnEmptyFile) {
  const fs::path p = dir_ / "empty";
  ASSERT_TRUE(WritePrivateFile(p, "", false).ok());
  auto read = ReadPrivateFile(p, 16);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->empty());
}

TEST_F(PrivateFileTest, RefusesGroupOrWorldAccessWithoutQuotingTheContent) {
  const fs::path p = dir_ / "secret";
  WriteRaw(p, "secret-value", 0600);
  for (mode_t mode : {0640, 0604, 0620, 0602, 0610, 0601, 0644, 0660}) {
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
    auto read = ReadPrivateFile(p, 1024);
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_EQ(read.status().code(), StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_NE(read.status().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(read.status().message().find("secret-value"), std::string::npos);
  }
  for (mode_t mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_TRUE(ReadPrivateFile(p, 1024).ok()) << std::oct << mode;
  }
}

TEST_F(PrivateFileTest, WorldReadableAccessSkipsTheModeCheckOnly) {
  ::umask(022);
  const fs::path p = dir_ / "public";
  ASSERT_TRUE(WritePrivateFile(p, "pub", false, FileAccess::kWorldReadable).ok());
  EXPECT_EQ(Mode(p), 0644u);
  auto read = ReadPrivateFile(p, 16, FileAccess::kWorldReadable);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, "pub");
  EXPECT_EQ(ReadPrivateFile(p, 16).status().code(), StatusCode::kFailedPrecondition);
  // Symlinks are refused whatever the access.
  fs::create_symlink(p, dir_ / "link");
  EXPECT_EQ(ReadPrivateFile(dir_ / "link", 16, FileAccess::kWorldReadable).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(PrivateFileTest, RefusesSymlinkEvenToAGoodFile) {
  const fs::path target = dir_ / "real";
  ASSERT_TRUE(WritePrivateFile(target, "abc", false).ok());
  const fs::path link = dir_ / "link";
  fs::create_symlink(target, link);
  auto read = ReadPrivateFile(link, 1024);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(read.status().message().find("symbolic link"), std::string::npos);
  EXPECT_TRUE(ReadPrivateFile(target, 1024).ok());
}

TEST_F(PrivateFileTest, RefusesDirectoriesAndFifos) {
  const fs::path d = dir_ / "dir";
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  EXPECT_EQ(ReadPrivateFile(d, 1024).status().code(), StatusCode::kFailedPrecondition);
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Must return at once, not wait for a writer.
  EXPECT_EQ(ReadPrivateFile(fifo, 1024).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(PrivateFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadPrivateFile(dir_ / "absent", 1024).status().code(), StatusCode::kNotFound);
}

TEST_F(PrivateFileTest, SizeCapIsInclusive) {
  const fs::path p = dir_ / "secret";
  WriteRaw(p, std::string(16, 'x'), 0600);
  auto exact = ReadPrivateFile(p, 16);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(exact->size(), 16u);
  auto over = ReadPrivateFile(p, 15);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(over.status().message().find("xxxx"), std::string::npos);
  uint8_t small[15];
  EXPECT_EQ(ReadPrivateFileInto(p, small).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PrivateFileTest, AlreadyExistsWithoutOverwriteLeavesTheFileUnchanged) {
  const fs::path p = dir_ / "secret";
  ASSERT_TRUE(WritePrivateFile(p, "first", false).ok());
  const Status st = WritePrivateFile(p, "second", false);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(st.message().find("second"), std::string::npos);
  EXPECT_EQ(ReadRaw(p), "first");
  EXPECT_EQ(EntryCount(), 1u);
  // Even a dangling symlink counts as present.
  fs::create_symlink(dir_ / "nowhere", dir_ / "dangling");
  EXPECT_EQ(WritePrivateFile(dir_ / "dangling", "x", false).code(), StatusCode::kAlreadyExists);
}

TEST_F(PrivateFileTest, OverwriteReplacesTheFileAndFixesALooseMode) {
  const fs::path p = dir_ / "secret";
  WriteRaw(p, "old content that is longer", 0644);
  ASSERT_TRUE(WritePrivateFile(p, "new", true).ok());
  EXPECT_EQ(ReadRaw(p), "new");
  EXPECT_EQ(Mode(p), 0600u);
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(PrivateFileTest, WriteErrorsAreUnavailableOrInvalidArgument) {
  const Status missing = WritePrivateFile(dir_ / "nope" / "secret", "data", false);
  EXPECT_EQ(missing.code(), StatusCode::kUnavailable);
  EXPECT_NE(missing.message().find("No such file or directory"), std::string::npos);
  EXPECT_EQ(missing.message().find("data"), std::string::npos);
  EXPECT_EQ(WritePrivateFile(dir_.path() / "", "data", false).code(), StatusCode::kInvalidArgument);
  // Overwriting a directory fails and leaves no temporary file behind.
  ASSERT_EQ(::mkdir((dir_ / "dir").c_str(), 0700), 0);
  EXPECT_EQ(WritePrivateFile(dir_ / "dir", "data", true).code(), StatusCode::kUnavailable);
  EXPECT_EQ(EntryCount(), 1u);
}

}  // namespace
}  // namespace mash::common
