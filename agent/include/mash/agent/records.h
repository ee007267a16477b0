// A small JSON fixture of records, looked up by exact strong identifier. This is the stand-in
// record source of the foundation; the built-in SQLCipher store, the command connector and the
// probabilistic matcher replace it in the agent issue.
//
// Fixture format:
//   {"source": "Example Police RMS",
//    "records": [{"identifiers": {"nhs_number": "9434765919", "pnc_id": "..."},
//                 "categories": {"incidents": {"summary": "...", "latest": "2026-09-14",
//                                              "records": [{...}, ...]}}}]}
//
// Thread safety: immutable after Load.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mash/common/status.h"

namespace mash::agent {

struct CategoryRecords {
  std::string summary;
  std::string latest;
  nlohmann::json records = nlohmann::json::array();
};

struct Record {
  std::map<std::string, std::string> identifiers;  // normalised
  std::map<std::string, CategoryRecords> categories;
};

class FixtureRecords {
 public:
  // Errors: NotFound, InvalidArgument (with the record index, never its contents).
  static Result<FixtureRecords> Load(const std::filesystem::path& path);
  static Result<FixtureRecords> FromJson(const nlohmann::json& doc);

  // The record whose normalised identifier of some kind equals the query's; `matched_on` gets
  // the identifier kinds that agreed. nullptr when none matches.
  const Record* Find(const std::map<std::string, std::string>& identifiers,
                     std::vector<std::string>* matched_on) const;
  const std::string& source() const { return source_; }
  size_t size() const { return records_.size(); }

 private:
  std::string source_;
  std::vector<Record> records_;
  // (kind, normalised value) -> record index
  std::map<std::pair<std::string, std::string>, size_t> index_;
};

}  // namespace mash::agent
