#include "mash/agent/records.h"

#include <fstream>
#include <sstream>

#include "mash/crypto/pseudonym.h"
#include "mash/schemas/validator.h"

namespace mash::agent {
namespace {

constexpr size_t kMaxFixtureBytes = 64 * 1024 * 1024;

}  // namespace

Result<FixtureRecords> FixtureRecords::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open records fixture " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto doc = schemas::ParseJson(text.str(), kMaxFixtureBytes, 16);
  if (!doc.ok()) return doc.status().WithContext(path.string());
  auto records = FromJson(*doc);
  if (!records.ok()) return records.status().WithContext(path.string());
  return records;
}

Result<FixtureRecords> FixtureRecords::FromJson(const nlohmann::json& doc) {
  FixtureRecords out;
  if (!doc.is_object() || !doc.contains("records") || !doc["records"].is_array()) {
    return InvalidArgument("fixture must be an object with a \"records\" array");
  }
  out.source_ = doc.value("source", "records fixture");
  size_t i = 0;
  for (const auto& r : doc["records"]) {
    const std::string where = "record " + std::to_string(i);
    if (!r.is_object() || !r.contains("identifiers") || !r["identifiers"].is_object()) {
      return InvalidArgument(where + ": needs an \"identifiers\" object");
    }
    Record rec;
    for (const auto& [kind, value] : r["identifiers"].items()) {
      if (!value.is_string()) return InvalidArgument(where + ": identifiers must be strings");
      rec.identifiers[kind] = crypto::NormaliseIdentifier(kind, value.get<std::string>());
    }
    if (r.contains("categories")) {
      if (!r["categories"].is_object()) return InvalidArgument(where + ": bad categories");
      for (const auto& [cat, body] : r["categories"].items()) {
        if (!body.is_object()) return InvalidArgument(where + ": bad category " + cat);
        CategoryRecords c;
        c.summary = body.value("summary", "");
        c.latest = body.value("latest", "");
        if (body.contains("records")) c.records = body["records"];
        rec.categories.emplace(cat, std::move(c));
      }
    }
    for (const auto& [kind, value] : rec.identifiers) out.index_[{kind, value}] = i;
    out.records_.push_back(std::move(rec));
    ++i;
  }
  return out;
}

const Record* FixtureRecords::Find(const std::map<std::string, std::string>& identifiers,
                                   std::vector<std::string>* matched_on) const {
  const Record* found = nullptr;
  for (const auto& [kind, value] : identifiers) {
    const auto it = index_.find({kind, crypto::NormaliseIdentifier(kind, value)});
    if (it == index_.end()) continue;
    const Record* candidate = &records_[it->second];
    // Two identifiers pointing at two different records is a conflict, not a match.
    if (found != nullptr && found != candidate) return nullptr;
    found = candidate;
    if (matched_on != nullptr) matched_on->push_back(kind);
  }
  return found;
}

Result<std::vector<SourceMatch>> FixtureRecords::Find(const schemas::QueryBody& query,
                                                      const QueryContext& /*context*/) {
  std::vector<SourceMatch> out;
  std::vector<std::string> matched_on;
  const Record* rec = Find(query.subject.identifiers, &matched_on);
  if (rec != nullptr) out.push_back(SourceMatch{*rec, std::move(matched_on), "confirmed"});
  return out;
}

}  // namespace mash::agent
