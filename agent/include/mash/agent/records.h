// A small JSON fixture of records, looked up by exact strong identifier. This is the stand-in
// record source of the foundation (a RecordSource); the built-in SQLCipher store and the
// probabilistic matcher replace it in the agent issue, the command connector is its alternative.
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

#include "mash/agent/record_source.h"
#include "mash/common/status.h"

namespace mash::agent {

class FixtureRecords final : public RecordSource {
 public:
  // Errors: NotFound, InvalidArgument (with the record index, never its contents).
  static Result<FixtureRecords> Load(const std::filesystem::path& path);
  static Result<FixtureRecords> FromJson(const nlohmann::json& doc);

  // The record whose normalised identifier of some kind equals the query's; `matched_on` gets
  // the identifier kinds that agreed. nullptr when none matches.
  const Record* Find(const std::map<std::string, std::string>& identifiers,
                     std::vector<std::string>* matched_on) const;
  // RecordSource: the record Find(query.subject.identifiers) gives, as a confirmed match, or
  // none. Never fails.
  Result<std::vector<SourceMatch>> Find(const schemas::QueryBody& query,
                                        const QueryContext& context) override;
  std::string source() const override { return source_; }
  size_t size() const { return records_.size(); }

 private:
  std::string source_;
  std::vector<Record> records_;
  // (kind, normalised value) -> record index
  std::map<std::pair<std::string, std::string>, size_t> index_;
};

}  // namespace mash::agent
