#include "mash/schemas/validator.h"

#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "embedded_schemas.h"

namespace mash::schemas {
namespace {

struct Compiled {
  std::map<std::string, nlohmann::json, std::less<>> docs;
  std::map<std::string, std::unique_ptr<valijson::Schema>, std::less<>> schemas;
};

// Schemas refer to each other by file name ("envelope.schema.json"); resolve those from the
// embedded set and never from the network or the file system.
const nlohmann::json* FetchEmbedded(const Compiled& c, const std::string& uri) {
  std::string name = uri;
  if (const auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  const std::string suffix = ".schema.json";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  const auto it = c.docs.find(name);
  return it == c.docs.end() ? nullptr : &it->second;
}

const Compiled& GetCompiled() {
  static const Compiled* compiled = [] {
    auto* c = new Compiled();
    for (const auto& e : internal::EmbeddedSchemas()) {
      // The embedded schemas are ours and checked by tests; a parse failure is a build defect.
      c->docs.emplace(std::string(e.name), nlohmann::json::parse(e.text));
    }
    for (const auto& [name, doc] : c->docs) {
      auto schema = std::make_unique<valijson::Schema>();
      valijson::SchemaParser parser;
      valijson::adapters::NlohmannJsonAdapter adapter(doc);
      parser.populateSchema(
          adapter, *schema,
          [c](const std::string& uri) -> const nlohmann::json* {
            const auto* found = FetchEmbedded(*c, uri);
            if (found == nullptr) throw std::runtime_error("unknown schema reference");
            // valijson frees what it fetched; hand it a copy it may own.
            return new nlohmann::json(*found);
          },
          [](const nlohmann::json* fetched) { delete fetched; });
      c->schemas.emplace(name, std::move(schema));
    }
    return c;
  }();
  return *compiled;
}

}  // namespace

Status CheckJsonShape(std::string_view text, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) return ResourceExhausted("message larger than the limit");
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    switch (ch) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) return InvalidArgument("message nested too deeply");
        break;
      case '}':
      case ']':
        if (--depth < 0) return InvalidArgument("message is not well-formed JSON");
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Result<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes, int max_depth) {
  MASH_RETURN_IF_ERROR(CheckJsonShape(text, max_bytes, max_depth));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("message is not well-formed JSON");
  return doc;
}

Status Validate(std::string_view schema, const nlohmann::json& doc) {
  const Compiled& c = GetCompiled();
  const auto it = c.schemas.find(schema);
  if (it == c.schemas.end()) return NotFound("no schema named " + std::string(schema));
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(doc);
  try {
    if (validator.validate(*it->second, adapter, &results)) return Status::Ok();
  } catch (const std::exception&) {
    return InvalidArgument(std::string(schema) + " could not be validated");
  }
  // The deepest error is the most specific; report its path and rule, never the value.
  valijson::ValidationResults::Error error;
  std::string where = "/";
  std::string rule = "invalid";
  size_t best_depth = 0;
  while (results.popError(error)) {
    if (error.context.size() >= best_depth) {
      best_depth = error.context.size();
      where.clear();
      for (const auto& part : error.context) {
        if (part == "<root>") continue;
        where += "/";
        // valijson writes array indexes as "[3]"; render as a JSON pointer.
        if (part.size() > 2 && part.front() == '[' && part.back() == ']') {
          where += part.substr(1, part.size() - 2);
        } else {
          where += part;
        }
      }
      rule = error.description;
      // A missing or unknown member is named by its pointer: the name of a required member is
      // the schema's; an unknown one is named only when it looks like a field name.
      for (const std::string_view lead : {"Missing required property '",
                                          "Object contains a property that could not be "
                                          "validated using 'properties' or "
                                          "'additionalProperties' constraints: '"}) {
        if (!rule.starts_with(lead)) continue;
        const std::string name =
            rule.substr(lead.size(), rule.find('\'', lead.size()) - lead.size());
        static const std::regex kFieldName("^[a-z][a-z0-9_]{0,31}$");
        if (std::regex_match(name, kFieldName)) where += "/" + name;
        rule = lead.starts_with("Missing") ? "required" : "not a known field";
      }
      if (where.empty()) where = "/";
    }
  }
  // Descriptions from valijson may quote the offending value; keep only the rule's wording
  // before any quote so nothing from the message reaches the log.
  if (const auto q = rule.find_first_of("'\""); q != std::string::npos) rule.resize(q);
  while (!rule.empty() && (rule.back() == ' ' || rule.back() == ':')) rule.pop_back();
  return InvalidArgument(std::string(schema) + " invalid at " + where + ": " + rule);
}

std::optional<std::string_view> SchemaText(std::string_view name) {
  for (const auto& e : internal::EmbeddedSchemas()) {
    if (e.name == name) return e.text;
  }
  return std::nullopt;
}

std::vector<std::string> SchemaNames() {
  std::vector<std::string> out;
  for (const auto& e : internal::EmbeddedSchemas()) out.emplace_back(e.name);
  return out;
}

}  // namespace mash::schemas
