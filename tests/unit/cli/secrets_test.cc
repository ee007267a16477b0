#include "mash/cli/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "mash/common/clock.h"
#include "support/temp_dir.h"

namespace mash::cli {
namespace {

void WriteFile(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  std::ofstream(p) << text;
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(TokenFileTest, ReadsATrimmedTokenFromAPrivateFile) {
  testing::TempDir dir;
  WriteFile(dir / "token", "  abc123\n", 0600);
  auto token = ReadTokenFile(dir / "token");
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, "abc123");
  WriteFile(dir / "ro", "abc123", 0400);
  EXPECT_TRUE(ReadTokenFile(dir / "ro").ok());
}

TEST(TokenFileTest, RefusesGroupOrWorldAccess) {
  testing::TempDir dir;
  for (mode_t mode : {0640, 0604, 0660, 0644, 0620}) {
    WriteFile(dir / "token", "secret-token-value", mode);
    auto token = ReadTokenFile(dir / "token");
    ASSERT_FALSE(token.ok()) << std::oct << mode;
    EXPECT_EQ(token.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(token.status().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(token.status().message().find("secret-token-value"), std::string::npos);
  }
}

TEST(TokenFileTest, RefusesMissingEmptyAndOddFiles) {
  testing::TempDir dir;
  EXPECT_EQ(ReadTokenFile(dir / "none").status().code(), StatusCode::kNotFound);
  WriteFile(dir / "empty", "", 0600);
  EXPECT_EQ(ReadTokenFile(dir / "empty").status().code(), StatusCode::kInvalidArgument);
  WriteFile(dir / "blank", " \n", 0600);
  EXPECT_EQ(ReadTokenFile(dir / "blank").status().code(), StatusCode::kInvalidArgument);
  // A token with a line break inside could add a header to the request.
  WriteFile(dir / "split", "abc\r\nX-Evil: 1\n", 0600);
  EXPECT_EQ(ReadTokenFile(dir / "split").status().code(), StatusCode::kInvalidArgument);
  WriteFile(dir / "long", std::string(300, 'a'), 0600);
  EXPECT_EQ(ReadTokenFile(dir / "long").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile(dir.path()).status().code(), StatusCode::kFailedPrecondition);
}

TEST(TokenFileTest, NewTokenFileIsPrivateAndHashed) {
  common::InitCrypto();
  testing::TempDir dir;
  const auto path = dir / "alice.token";
  auto digest = WriteNewTokenFile(path, false);
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(ModeOf(path), 0600u);
  auto token = ReadTokenFile(path);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 2 * kTokenBytes);
  EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(*digest, TokenSha256(*token));
  EXPECT_EQ(digest->size(), 64u);

  // No overwrite without asking; nothing is left behind.
  EXPECT_EQ(WriteNewTokenFile(path, false).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadTokenFile(path), *token);
  auto again = WriteNewTokenFile(path, true);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *digest);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(TokenFileTest, Sha256KnownAnswer) {
  EXPECT_EQ(TokenSha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mash::cli
