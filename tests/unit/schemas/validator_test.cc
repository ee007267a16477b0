#include "mash/schemas/validator.h"

#include <gtest/gtest.h>

#include <string>

namespace mash::schemas {
namespace {

TEST(ValidatorTest, EveryPublishedSchemaCompilesAndIsListed) {
  const auto names = SchemaNames();
  for (const char* expected : {"hello", "welcome", "query", "answer", "error", "ping", "envelope",
                               "query-body", "answer-body"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
    EXPECT_TRUE(SchemaText(expected).has_value()) << expected;
  }
  // Compiling happens on first use; an empty object must fail every schema with required fields.
  for (const auto& name : names) {
    EXPECT_FALSE(Validate(name, nlohmann::json::object()).ok()) << name;
  }
}

TEST(ValidatorTest, UnknownSchemaIsNotFound) {
  EXPECT_EQ(Validate("nope", nlohmann::json::object()).code(), StatusCode::kNotFound);
}

TEST(ValidatorTest, ErrorNamesThePathButNeverTheValue) {
  const nlohmann::json doc = {{"query_id", std::string(32, 'a')},
                              {"level", 1},
                              {"subject", {{"dob", "JOHN-SMITH-SECRET"}}}};
  const Status s = Validate("query-body", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/subject/dob"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("JOHN-SMITH-SECRET"), std::string::npos) << s.message();
}

TEST(ValidatorTest, RejectsAdditionalProperties) {
  nlohmann::json ping = {
      {"type", "ping"}, {"v", 1}, {"nonce", "0123456789abcdef"}, {"reply", false}};
  EXPECT_TRUE(Validate("ping", ping).ok());
  ping["extra"] = 1;
  EXPECT_FALSE(Validate("ping", ping).ok());
}

TEST(ValidatorTest, IntegersAreNotStringsOrFloats) {
  nlohmann::json ping = {
      {"type", "ping"}, {"v", "1"}, {"nonce", "0123456789abcdef"}, {"reply", false}};
  EXPECT_FALSE(Validate("ping", ping).ok());
  ping["v"] = 1.5;
  EXPECT_FALSE(Validate("ping", ping).ok());
}

TEST(JsonShapeTest, RejectsOversizeBeforeParsing) {
  const std::string big(2000, ' ');
  EXPECT_EQ(CheckJsonShape(big, 1000, 8).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(CheckJsonShape(big, 2000, 8).ok());
}

TEST(JsonShapeTest, RejectsDeepNestingButNotBracketsInStrings) {
  EXPECT_EQ(CheckJsonShape(std::string(9, '[') + std::string(9, ']'), 1000, 8).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckJsonShape(std::string(8, '[') + std::string(8, ']'), 1000, 8).ok());
  EXPECT_TRUE(CheckJsonShape(R"({"a":"[[[[[[[[[[[[[[[[\"[[[["})", 1000, 2).ok());
  EXPECT_FALSE(CheckJsonShape("]]", 1000, 8).ok());
}

TEST(JsonShapeTest, ParseJsonRejectsGarbageWithoutThrowing) {
  EXPECT_FALSE(ParseJson("{\"a\":", 100, 4).ok());
  EXPECT_FALSE(ParseJson("\xff\xfe", 100, 4).ok());
  EXPECT_FALSE(ParseJson("", 100, 4).ok());
  EXPECT_TRUE(ParseJson("{\"a\":[1,2]}", 100, 4).ok());
}

// The command connector's schemas (schemas/connector/) are published and compiled in: the
// examples of docs/agent.md pass, and what the agent's own checks refuse the schemas refuse too.
TEST(ValidatorTest, CommandConnectorSchemasAcceptTheDocumentedDocumentsOnly) {
  const auto input = nlohmann::json::parse(R"({"version": 1, "check_ref": "chk-0001",
    "purpose": "child-protection-s47", "level": 2, "categories": ["domestic_abuse"],
    "subject": {"given_names": "Jamie", "family_name": "Example", "aliases": [],
                "dob": "2015-03-04", "sex": "female", "postcodes": ["NS1 2AB"],
                "identifiers": {"nhs_number": "9434765919"}},
    "household": [{"given_names": "Alex", "family_name": "Example"}]})");
  EXPECT_TRUE(Validate("command-input", input).ok());
  auto no_version = input;
  no_version.erase("version");
  EXPECT_FALSE(Validate("command-input", no_version).ok());

  const auto output = nlohmann::json::parse(R"({"matches": [
    {"identifiers": {"nhs_number": "9434765919"}, "match": "confirmed",
     "matched_on": ["nhs_number"],
     "categories": {"domestic_abuse": {"summary": "Two incidents at the home address.",
                                       "latest": "2026-10-30",
                                       "records": [{"date": "2026-10-30", "type": "domestic incident"}]}}}]})");
  EXPECT_TRUE(Validate("command-output", output).ok());
  EXPECT_TRUE(Validate("command-output", nlohmann::json::parse(R"({"matches": []})")).ok());
  for (const char* bad : {
           R"({})",
           R"({"matches": [], "extra": 1})",
           R"({"matches": [{"match": "probably"}]})",
           R"({"matches": [{"identifiers": {"NHS": "1"}}]})",
           R"({"matches": [{"categories": {"x": {"summary": "too short a name"}}}]})",
           R"({"matches": [{"categories": {"incidents": {"latest": "30/10/2026"}}}]})",
           R"({"matches": [{"categories": {"incidents": {"records": [{"nested": {"a": 1}}]}}}]})",
       }) {
    EXPECT_FALSE(Validate("command-output", nlohmann::json::parse(bad)).ok()) << bad;
  }
  ASSERT_TRUE(SchemaText("command-output").has_value());
  ASSERT_TRUE(SchemaText("command-input").has_value());
}

TEST(ValidatorTest, NamesAMissingOrUnknownFieldButNeverAnOddKey) {
  const nlohmann::json ping = {
      {"type", "ping"}, {"v", 1}, {"nonce", "0123456789abcdef"}, {"reply", false}};
  nlohmann::json missing = ping;
  missing.erase("nonce");
  Status s = Validate("ping", missing);
  EXPECT_NE(s.message().find("invalid at /nonce: required"), std::string::npos) << s.message();
  nlohmann::json extra = ping;
  extra["priority"] = 1;
  s = Validate("ping", extra);
  EXPECT_NE(s.message().find("invalid at /priority: not a known field"), std::string::npos)
      << s.message();
  // A key that does not look like a field name (it could be anything) is not repeated.
  nlohmann::json odd = ping;
  odd["Amelia Jones 2015-03-09"] = 1;
  s = Validate("ping", odd);
  EXPECT_NE(s.message().find("invalid at /: not a known field"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("Amelia"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace mash::schemas
