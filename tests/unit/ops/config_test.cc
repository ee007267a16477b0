#include "mash/ops/config.h"

#include <gtest/gtest.h>

namespace mash::ops {
namespace {

// Reads `toml` as a daemon would: ReadOpsListen, then Finish for the recorded errors.
std::pair<std::optional<Endpoint>, Status> Read(std::string_view toml) {
  auto file = common::ConfigFile::Parse(toml, "test.toml");
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  auto r = file->Reader();
  auto listen = ReadOpsListen(r);
  return {listen, r.Finish()};
}

TEST(OpsListenConfigTest, AbsentListenIsNoListenerAndNoError) {
  auto [listen, status] = Read("[ops]\n");
  EXPECT_FALSE(listen.has_value());
  EXPECT_TRUE(status.ok()) << status.ToString();
  auto [none, ok] = Read("");
  EXPECT_FALSE(none.has_value());
  EXPECT_TRUE(ok.ok()) << ok.ToString();
}

TEST(OpsListenConfigTest, ReadsALoopbackListen) {
  auto [listen, status] = Read("[ops]\nlisten = \"[::1]:9465\"\n");
  EXPECT_TRUE(status.ok()) << status.ToString();
  ASSERT_TRUE(listen.has_value());
  EXPECT_EQ(listen->address, "::1");
  EXPECT_EQ(listen->port, 9465);
}

TEST(OpsListenConfigTest, ABadListenIsAnErrorAtOpsListen) {
  for (const char* toml : {"[ops]\nlisten = \"0.0.0.0:9464\"\n",
                           "[ops]\nlisten = \"localhost:1\"\n", "[ops]\nlisten = 9464\n"}) {
    auto [listen, status] = Read(toml);
    EXPECT_FALSE(listen.has_value()) << toml;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << toml;
    EXPECT_NE(status.message().find("ops.listen"), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace mash::ops
