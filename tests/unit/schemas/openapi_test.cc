// schemas/api/openapi.json against the route list in the comment of api_server.h: every route
// listed there is in the document with its method and every path of the document is listed
// there, so the two cannot drift apart; every $ref of the document resolves.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace mash::schemas {
namespace {

const std::filesystem::path kSource = MASH_SOURCE_DIR;
const std::filesystem::path kOpenApi = kSource / "schemas" / "api" / "openapi.json";
const std::filesystem::path kHeader =
    kSource / "broker" / "include" / "mash" / "broker" / "api_server.h";

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json LoadOpenApi() {
  return nlohmann::json::parse(ReadFile(kOpenApi), nullptr, /*allow_exceptions=*/false);
}

// "{id}", "{check}" ... all become "{}"; a query ("?..." or "[?...]") is dropped.
std::string NormalisePath(std::string path) {
  if (const auto q = path.find_first_of("[?"); q != std::string::npos) path.resize(q);
  static const std::regex kParam("\\{[^}/]*\\}");
  return std::regex_replace(path, kParam, "{}");
}

// "METHOD /path" for every route of the header comment (lines "//   GET  /api/v1/...").
std::set<std::string> HeaderRoutes() {
  std::set<std::string> out;
  std::istringstream in(ReadFile(kHeader));
  static const std::regex kRoute(R"(^//\s+(GET|POST|PUT|PATCH|DELETE)\s+(/api/\S+).*$)");
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kRoute)) out.insert(m[1].str() + " " + NormalisePath(m[2]));
  }
  return out;
}

std::set<std::string> DocumentRoutes(const nlohmann::json& doc) {
  std::set<std::string> out;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, _] : item.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert(upper + " " + NormalisePath(path));
    }
  }
  return out;
}

// Every {"$ref": ...} in `node`, with the JSON pointer where it is.
void CollectRefs(const nlohmann::json& node, const std::string& where,
                 std::vector<std::pair<std::string, std::string>>* out) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      if (k == "$ref" && v.is_string()) out->emplace_back(where, v.get<std::string>());
      CollectRefs(v, where + "/" + k, out);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      CollectRefs(node[i], where + "/" + std::to_string(i), out);
  }
}

// Resolves a fragment ("#/a/b") in `doc`; false when any step is missing.
bool Resolves(const nlohmann::json& doc, const std::string& fragment) {
  if (fragment.empty()) return true;
  if (fragment.front() != '/') return false;
  try {
    return !doc.at(nlohmann::json::json_pointer(fragment)).is_null();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

TEST(OpenApiTest, IsOpenApi303WithABearerScheme) {
  const auto doc = LoadOpenApi();
  ASSERT_FALSE(doc.is_discarded()) << kOpenApi << " is not JSON";
  EXPECT_EQ(doc.value("openapi", ""), "3.0.3");
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
  for (const char* name : {"Check", "CheckSummary", "Alert", "Error", "Decision"}) {
    EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << name;
  }
}

TEST(OpenApiTest, TheHeaderCommentListsRoutes) {
  // A parser that finds nothing would make the comparison below pass vacuously.
  const auto routes = HeaderRoutes();
  EXPECT_GE(routes.size(), 19u);
  EXPECT_TRUE(routes.count("POST /api/v1/checks/{}/decision")) << "parser missed a route";
  EXPECT_TRUE(routes.count("DELETE /api/v1/session")) << "parser missed a route";
}

TEST(OpenApiTest, EveryRouteOfTheHeaderIsDocumentedAndNoOther) {
  const auto doc = LoadOpenApi();
  ASSERT_FALSE(doc.is_discarded());
  const auto header = HeaderRoutes();
  const auto documented = DocumentRoutes(doc);
  for (const auto& r : header) {
    EXPECT_TRUE(documented.count(r)) << r << " is in api_server.h but not in openapi.json";
  }
  for (const auto& r : documented) {
    EXPECT_TRUE(header.count(r)) << r << " is in openapi.json but not in api_server.h";
  }
}

TEST(OpenApiTest, EveryOperationSaysWhoMayCallItAndHowItFails) {
  const auto doc = LoadOpenApi();
  ASSERT_FALSE(doc.is_discarded());
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      const std::string what = method + " " + path;
      EXPECT_TRUE(op.contains("x-roles") && op["x-roles"].is_array()) << what;
      ASSERT_TRUE(op.contains("responses")) << what;
      bool has_error = false;
      for (const auto& [status, _] : op["responses"].items()) has_error |= status[0] != '2';
      EXPECT_TRUE(has_error) << what << " documents no error response";
      // Routes without a bearer token say so; every other one uses the global bearer scheme.
      if (op.contains("security")) {
        EXPECT_TRUE(op["security"].empty()) << what;
      }
    }
  }
}

TEST(OpenApiTest, EveryRefResolves) {
  const auto doc = LoadOpenApi();
  ASSERT_FALSE(doc.is_discarded());
  std::vector<std::pair<std::string, std::string>> refs;
  CollectRefs(doc, "", &refs);
  EXPECT_GE(refs.size(), 10u);
  for (const auto& [where, ref] : refs) {
    const auto hash = ref.find('#');
    const std::string file = ref.substr(0, hash);
    const std::string fragment = hash == std::string::npos ? "" : ref.substr(hash + 1);
    if (file.empty()) {
      EXPECT_TRUE(Resolves(doc, fragment)) << where << ": " << ref << " does not resolve";
      continue;
    }
    const auto target = kOpenApi.parent_path() / file;
    ASSERT_TRUE(std::filesystem::is_regular_file(target))
        << where << ": " << ref << " names no file";
    const auto other = nlohmann::json::parse(ReadFile(target), nullptr, false);
    ASSERT_FALSE(other.is_discarded()) << target;
    EXPECT_TRUE(Resolves(other, fragment)) << where << ": " << ref << " does not resolve";
  }
}

TEST(OpenApiTest, TheErrorCodesAreThoseTheServerUses) {
  const auto doc = LoadOpenApi();
  ASSERT_FALSE(doc.is_discarded());
  std::set<std::string> documented;
  for (const auto& c :
       doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]) {
    documented.insert(c.get<std::string>());
  }
  // Every ErrorBody("code", ...) of the server.
  const std::string source = ReadFile(kSource / "broker" / "src" / "api_server.cc");
  static const std::regex kCode("ErrorBody\\(\"([a-z_]+)\"");
  std::set<std::string> used;
  for (auto it = std::sregex_iterator(source.begin(), source.end(), kCode);
       it != std::sregex_iterator(); ++it) {
    used.insert((*it)[1].str());
  }
  EXPECT_GE(used.size(), 5u);
  EXPECT_EQ(documented, used);
}

}  // namespace
}  // namespace mash::schemas
