// Crash safety: a writer killed with SIGKILL at random moments loses no acknowledged event, and
// the log it leaves verifies and reopens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <sstream>
#include <thread>

#include "audit_test_util.h"

namespace mash::audit {
namespace {

using testing::AuditStoreTest;

class CrashTest : public AuditStoreTest {};

// Runs the writer for `ms` milliseconds, kills it, returns the acknowledged sequence numbers.
std::vector<uint64_t> RunAndKill(const std::vector<std::string>& args, int ms) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "writer exited early: " << status;
  std::vector<uint64_t> acked;
  std::istringstream in(text);
  std::string line;
  // Only complete lines: a line cut by the kill was not fully acknowledged.
  while (std::getline(in, line)) {
    if (in.eof()) break;
    acked.push_back(std::stoull(line));
  }
  return acked;
}

TEST_F(CrashTest, NoAcknowledgedEventIsLostAcrossSigkill) {
  const auto sign_key = dir_ / "checkpoint.key";
  ASSERT_TRUE(crypto::WriteKeyFile(sign_key, crypto::KeyKind::kSigningSecret, key_->Seed()).ok());
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay(150, 600);
  uint64_t total_acked = 0;
  for (int round = 0; round < 4; ++round) {
    auto acked = RunAndKill(
        {AUDIT_CRASH_WRITER, db_file_.string(), db_key_file_.string(), sign_key.string()},
        delay(rng));
    total_acked += acked.size();
    // Reopening runs the start-up check, which must pass; every acknowledged event is there.
    auto log = OpenLog(Options());
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
    if (!acked.empty()) {
      EXPECT_GT((*log)->Size(), acked.back()) << "round " << round;
      auto receipt = (*log)->MakeReceipt(acked.back());
      EXPECT_TRUE(receipt.ok());
    }
  }
  EXPECT_GT(total_acked, 0u);
  VerifyReport full = Verify();
  EXPECT_TRUE(full.ok) << full.problem;
  EXPECT_GE(full.size, total_acked);
}

}  // namespace
}  // namespace mash::audit
