#include "mash/common/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace mash::common {
namespace {

// The "file:line:col: message" lines of an error, in order.
std::vector<std::string> Lines(const Status& s) {
  std::vector<std::string> out;
  std::string m = s.message();
  size_t start = 0;
  while (start <= m.size()) {
    const size_t end = m.find('\n', start);
    out.push_back(m.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

ConfigFile ParseOk(const std::string& text, const std::string& base = ".") {
  auto f = ConfigFile::Parse(text, "test.toml", base);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(f).value();
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  auto f = ConfigFile::Parse("a = 1\nb = \"unterminated\n", "broker.toml");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(StartsWith(f.status().message(), "broker.toml:2:")) << f.status().message();

  auto g = ConfigFile::Parse("[listen]\nport = = 3\n", "agent.toml");
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(StartsWith(g.status().message(), "agent.toml:2:8:")) << g.status().message();
}

TEST(ConfigTest, LoadMissingFileIsNotFound) {
  auto f = ConfigFile::Load("/nonexistent/mash/config.toml");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

TEST(ConfigTest, ReadsValuesAndDefaults) {
  const ConfigFile f = ParseOk(
      "name = \"hub\"\n"
      "[listen]\n"
      "port = 8443\n"
      "tls = true\n"
      "hosts = [\"a\", \"b\"]\n");
  ConfigReader r = f.Reader();
  EXPECT_EQ(r.String("name"), "hub");
  EXPECT_EQ(r.Integer("listen.port", std::nullopt, 1, 65535), 8443);
  EXPECT_TRUE(r.Bool("listen.tls"));
  EXPECT_EQ(r.StringArray("listen.hosts"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.String("missing", "dflt"), "dflt");
  EXPECT_EQ(r.Integer("listen.backlog", 16, 1, 100), 16);
  EXPECT_TRUE(r.Has("listen.port"));
  EXPECT_FALSE(r.Has("listen.nope"));
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ConfigTest, MissingKeyIsReportedAtItsTable) {
  const ConfigFile f = ParseOk("a = 1\n\n[listen]\nport = 1\n");
  ConfigReader r = f.Reader();
  r.Integer("a", std::nullopt, 0, 10);
  auto listen = r.Table("listen");
  ASSERT_TRUE(listen.has_value());
  listen->Integer("port", std::nullopt, 1, 65535);
  listen->String("address");
  const Status s = r.Finish();
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(Lines(s).size(), 1u) << s.message();
  EXPECT_EQ(Lines(s)[0], "test.toml:3:1: missing required key 'listen.address'");
}

TEST(ConfigTest, MissingKeyAtTheRootIsReportedAtTheStart) {
  const ConfigFile f = ParseOk("\n\nx = 1\n");
  ConfigReader r = f.Reader();
  r.Integer("x", std::nullopt, 0, 9);
  r.String("hub_id");
  EXPECT_EQ(r.Finish().message(), "test.toml:1:1: missing required key 'hub_id'");
}

TEST(ConfigTest, WrongTypeIsReportedAtTheValue) {
  const ConfigFile f = ParseOk("[listen]\nport = \"8443\"\n");
  ConfigReader r = f.Reader();
  EXPECT_EQ(r.Integer("listen.port", 443, 1, 65535), 443);
  EXPECT_EQ(r.Finish().message(), "test.toml:2:8: 'listen.port' must be an integer");
}

TEST(ConfigTest, OutOfRangeIsReportedAtTheValue) {
  const ConfigFile f = ParseOk("# comment\n  port = 70000\n");
  ConfigReader r = f.Reader();
  r.Integer("port", std::nullopt, 1, 65535);
  EXPECT_EQ(r.Finish().message(), "test.toml:2:10: 'port' must be between 1 and 65535");
}

TEST(ConfigTest, DoubleReadsFloatsAndIntegersInRange) {
  const ConfigFile f = ParseOk("a = 0.75\nb = 1\nc = 1.5\nd = \"x\"\ne = nan\n");
  ConfigReader r = f.Reader();
  EXPECT_DOUBLE_EQ(r.Double("a", std::nullopt, 0, 1), 0.75);
  EXPECT_DOUBLE_EQ(r.Double("b", std::nullopt, 0, 1), 1.0);
  EXPECT_DOUBLE_EQ(r.Double("c", 0.5, 0, 1), 0.5);
  EXPECT_DOUBLE_EQ(r.Double("d", 0.25, 0, 1), 0.25);
  EXPECT_DOUBLE_EQ(r.Double("e", 0.25, 0, 1), 0.25);
  EXPECT_DOUBLE_EQ(r.Double("missing", 0.5, 0, 1), 0.5);
  const auto lines = Lines(r.Finish());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "test.toml:3:5: 'c' must be between 0 and 1");
  EXPECT_EQ(lines[1], "test.toml:4:5: 'd' must be a number");
  EXPECT_TRUE(StartsWith(lines[2], "test.toml:5:5: 'e' must be between")) << lines[2];
}

TEST(ConfigTest, UnknownKeyIsReportedAtTheKey) {
  const ConfigFile f = ParseOk("[listen]\nport = 1\n   prot = 2\n");
  ConfigReader r = f.Reader();
  auto listen = r.Table("listen");
  ASSERT_TRUE(listen.has_value());
  listen->Integer("port", std::nullopt, 1, 65535);
  EXPECT_EQ(r.Finish().message(), "test.toml:3:4: unknown key 'listen.prot'");
}

TEST(ConfigTest, SeveralErrorsAreReportedTogetherInFileOrder) {
  const ConfigFile f = ParseOk(
      "extra = 1\n"  // 1: unknown
      "[a]\n"        // 2: table a, missing key
      "n = \"x\"\n"  // 3: wrong type
      "[b]\n"
      "m = 99\n"            // 5: out of range
      "flag = \"yes\"\n");  // 6: wrong type
  ConfigReader r = f.Reader();
  // Read out of file order on purpose: the report is sorted by position.
  r.Bool("b.flag");
  r.Integer("b.m", std::nullopt, 0, 10);
  auto a = r.Table("a");
  ASSERT_TRUE(a.has_value());
  a->Integer("n", std::nullopt, 0, 10);
  a->String("needed");
  const Status s = r.Finish();
  ASSERT_FALSE(s.ok());
  const auto lines = Lines(s);
  ASSERT_EQ(lines.size(), 5u) << s.message();
  EXPECT_EQ(lines[0], "test.toml:1:1: unknown key 'extra'");
  EXPECT_EQ(lines[1], "test.toml:2:1: missing required key 'a.needed'");
  EXPECT_EQ(lines[2], "test.toml:3:5: 'a.n' must be an integer");
  EXPECT_EQ(lines[3], "test.toml:5:5: 'b.m' must be between 0 and 10");
  EXPECT_EQ(lines[4], "test.toml:6:8: 'b.flag' must be true or false");
  EXPECT_TRUE(r.HasErrors());
}

TEST(ConfigTest, StringArrayReportsEachBadItem) {
  const ConfigFile f = ParseOk("list = [\"a\", 2, \"c\"]\n");
  ConfigReader r = f.Reader();
  EXPECT_EQ(r.StringArray("list"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(r.Finish().message(), "test.toml:1:14: 'list' must hold only strings");
}

TEST(ConfigTest, ErrorAtRecordsACustomError) {
  const ConfigFile f = ParseOk("\nmode = \"fast\"\n");
  ConfigReader r = f.Reader();
  EXPECT_EQ(r.String("mode"), "fast");
  r.ErrorAt("mode", "mode must be 'safe'");
  EXPECT_EQ(r.PositionOf("mode").ToString(), "test.toml:2:8");
  EXPECT_EQ(r.Finish().message(), "test.toml:2:8: mode must be 'safe'");
}

TEST(ConfigTest, RelativePathIsResolvedAgainstTheConfigFolder) {
  const ConfigFile f = ParseOk(
      "rel = \"keys/hub.key\"\nup = \"../ca.pem\"\nabs = \"/etc/mash/x.pem\"\n", "/srv/mash/conf");
  ConfigReader r = f.Reader();
  EXPECT_EQ(r.Path("rel"), std::filesystem::path("/srv/mash/conf/keys/hub.key"));
  EXPECT_EQ(r.Path("up"), std::filesystem::path("/srv/mash/ca.pem"));
  EXPECT_EQ(r.Path("abs"), std::filesystem::path("/etc/mash/x.pem"));
  EXPECT_EQ(r.Path("none", std::filesystem::path("d.pem")),
            std::filesystem::path("/srv/mash/conf/d.pem"));
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ConfigTest, LoadResolvesPathsAgainstTheFilesFolderAndNamesTheFile) {
  testing::TempDir dir;
  const auto path = dir / "broker.toml";
  std::ofstream(path) << "key = \"db.key\"\nbad = 1\n";
  auto f = ConfigFile::Load(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ConfigReader r = f->Reader();
  EXPECT_EQ(r.Path("key"), (dir.path() / "db.key").lexically_normal());
  r.String("bad");
  EXPECT_EQ(r.Finish().message(), path.string() + ":2:7: 'bad' must be a string");
}

TEST(ConfigTest, TableArrayReadsEachEntryWithItsOwnPositions) {
  const ConfigFile f = ParseOk(
      "[[api_token]]\n"
      "user = \"alice\"\n"
      "role = \"practitioner\"\n"
      "\n"
      "[[api_token]]\n"
      "user = \"bob\"\n"
      "rol = \"manager\"\n");
  ConfigReader r = f.Reader();
  auto tokens = r.TableArray("api_token");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].String("user"), "alice");
  EXPECT_EQ(tokens[0].String("role"), "practitioner");
  EXPECT_EQ(tokens[1].String("user"), "bob");
  EXPECT_EQ(tokens[1].String("role"), "");
  const auto lines = Lines(r.Finish());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "test.toml:5:1: missing required key 'api_token[1].role'");
  EXPECT_EQ(lines[1], "test.toml:7:1: unknown key 'api_token[1].rol'");
}

TEST(ConfigTest, TableArrayMissingOrWrongShape) {
  const ConfigFile f = ParseOk("agency = 3\n");
  ConfigReader r = f.Reader();
  EXPECT_TRUE(r.TableArray("agency").empty());
  EXPECT_TRUE(r.TableArray("other", /*optional=*/true).empty());
  EXPECT_TRUE(r.TableArray("required").empty());
  const auto lines = Lines(r.Finish());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "test.toml:1:1: missing required array of tables [[required]]");
  EXPECT_EQ(lines[1], "test.toml:1:10: 'agency' must be an array of tables [[agency]]");
}

TEST(ConfigTest, MissingTableIsAnErrorUnlessOptional) {
  const ConfigFile f = ParseOk("x = 1\n");
  ConfigReader r = f.Reader();
  r.Integer("x", std::nullopt, 0, 9);
  EXPECT_FALSE(r.Table("tls", /*optional=*/true).has_value());
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_FALSE(r.Table("tls").has_value());
  EXPECT_EQ(r.Finish().message(), "test.toml:1:1: missing required table [tls]");
}

}  // namespace
}  // namespace mash::common

namespace mash::common {
namespace {

TEST(ConfigPositionTest, MissingDottedKeyPointsAtItsTable) {
  auto file = ConfigFile::Parse("# comment\n\n[tls]\nca = \"x\"\n", "agent.toml");
  ASSERT_TRUE(file.ok());
  ConfigReader r = file->Reader();
  (void)r.String("tls.ca");
  (void)r.String("tls.cert");
  const Status s = r.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("agent.toml:3:1: missing required key 'tls.cert'"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace mash::common
