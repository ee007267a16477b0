#include "mash/ops/endpoint.h"

#include <gtest/gtest.h>

namespace mash::ops {
namespace {

TEST(LoopbackEndpointTest, AcceptsIpv4LoopbackRangeAndIpv6Loopback) {
  auto a = ParseLoopbackEndpoint("127.0.0.1:9464");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->address, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  auto b = ParseLoopbackEndpoint("127.10.20.30:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 0);
  auto c = ParseLoopbackEndpoint("[::1]:9465");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->address, "::1");
  EXPECT_EQ(c->ToString(), "[::1]:9465");
  EXPECT_EQ(a->ToString(), "127.0.0.1:9464");
}

TEST(LoopbackEndpointTest, RefusesEveryAddressThatIsNotLoopback) {
  for (const char* text :
       {"0.0.0.0:9464", "10.0.0.1:9464", "192.168.1.10:80", "128.0.0.1:9464", "[::]:9464",
        "[::ffff:127.0.0.1]:9464", "[fe80::1]:9464", "[2001:db8::1]:9464"}) {
    auto r = ParseLoopbackEndpoint(text);
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(LoopbackEndpointTest, RefusesNamesAndMalformedText) {
  for (const char* text :
       {"localhost:9464", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:70000", "127.0.0.1:-1",
        "127.0.0.1:94x", "::1:9464", "[::1]9464", "[::1", "", "http://127.0.0.1:9464"}) {
    EXPECT_FALSE(ParseLoopbackEndpoint(text).ok()) << text;
  }
}

}  // namespace
}  // namespace mash::ops
