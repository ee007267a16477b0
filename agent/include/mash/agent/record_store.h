// The agent's built-in record store (DESIGN §§4, 9, 10; docs/agent.md "Record store"): a
// SQLCipher database (storage::Database: a raw key file, the same cipher settings as every other
// database) holding the agency's person records and their category records, filled by
// `mash-agent import` (record_import.h) and searched with the subject matcher (matcher.h).
//
// Tables:
//   persons(record_id PRIMARY KEY, given_names, family_name, aliases, dob, sex, postcodes,
//           nhs_number, pnc_id, upn, ni_number)   aliases and postcodes joined with U+001F
//   category_records(id, record_id, category, date, summary, record)   record: a JSON object
//
// At Open every person is loaded into a PersonIndex (with name term frequencies); Find matches
// the query's subject against it and reads category records only for the records matched.
//
// Bands (matcher.h): one CONFIRMED record is a confirmed match and its categories go through the
// agency's policy; two or more CONFIRMED records are ambiguous and returned together (the
// Responder then answers `possible`: custodian review, nothing released); with no CONFIRMED
// record the POSSIBLE ones are returned as possible (review). When exactly one record is
// CONFIRMED, POSSIBLE ones beside it are not returned: they add nothing the custodian could
// release.
//
// Thread safety: Find and FindHousehold may be called from several threads at once
// (a mutex guards the database; the index is immutable after Open).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mash/agent/matcher.h"
#include "mash/agent/record_source.h"
#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::agent {

struct RecordStoreOptions {
  std::filesystem::path file;
  std::filesystem::path key_file;       // crypto::KeyKind::kDatabaseKey, mode 0600
  std::string source = "Record store";  // the source system as answers name it (≤ 80 chars)
  bool create_if_missing = false;       // the agent opens an existing store; import creates it
  MatchThresholds thresholds;
};

// At most this many category records of one category go into an answer (the answer-body limit),
// newest first.
inline constexpr size_t kMaxRecordsPerCategory = 200;
// At most this many matched records are read for one subject.
inline constexpr size_t kMaxStoreMatches = 8;

// Creates the tables if missing (the schema above). Used by Open and the importer.
Status CreateRecordStoreSchema(storage::Database& db);

class RecordStore final : public RecordSource {
 public:
  // Opens the database and loads every person into the index. Errors: those of
  // storage::Database::Open (NotFound, FailedPrecondition for key permissions, Unauthenticated
  // for a wrong key), DataLoss when a stored row cannot be read.
  static Result<std::unique_ptr<RecordStore>> Open(const RecordStoreOptions& options);

  // RecordSource: the subject's matches (see the bands above), categories from the store.
  // Errors: storage errors (the Responder then answers `unavailable`).
  Result<std::vector<SourceMatch>> Find(const schemas::QueryBody& query,
                                        const QueryContext& context) override;
  // One entry per household member: CONFIRMED when exactly one record is confirmed, POSSIBLE
  // when anything else matched, none otherwise; matched_on from the best-scoring record.
  Result<std::optional<std::vector<HouseholdMatch>>> FindHousehold(
      const schemas::QueryBody& query, const QueryContext& context) override;
  std::string source() const override { return source_; }

  size_t size() const { return index_.size(); }
  // The matcher's view, for tests and the bench.
  std::vector<Match> Lookup(const schemas::Person& person) const;

 private:
  RecordStore() = default;
  Result<Record> LoadRecord(const std::string& record_id);

  std::string source_;
  PersonIndex index_;
  std::mutex mu_;  // guards db_ and its statements
  std::unique_ptr<storage::Database> db_;
};

}  // namespace mash::agent
