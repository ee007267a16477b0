#include "mash/agent/record_store.h"

#include <algorithm>
#include <map>

#include "mash/common/log.h"

namespace mash::agent {
namespace {

constexpr char kListSeparator = '\x1f';

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    const auto p = s.find(kListSeparator, start);
    out.push_back(s.substr(start, p == std::string::npos ? p : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

constexpr std::string_view kIdColumns[] = {"nhs_number", "pnc_id", "upn", "ni_number"};

// A household member's band: CONFIRMED only when exactly one record is; POSSIBLE when anything
// else matched; none otherwise.
HouseholdMatch BestOf(const std::vector<Match>& matches, size_t index) {
  HouseholdMatch h;
  h.index = index;
  if (matches.empty()) {
    h.match = "none";
    return h;
  }
  const size_t confirmed = std::count_if(matches.begin(), matches.end(), [](const Match& m) {
    return m.band == MatchBand::kConfirmed;
  });
  h.match = confirmed == 1 ? "confirmed" : "possible";
  h.matched_on = matches.front().agreed;  // best score first
  return h;
}

}  // namespace

Status CreateRecordStoreSchema(storage::Database& db) {
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS persons ("
      " record_id TEXT PRIMARY KEY NOT NULL,"
      " given_names TEXT NOT NULL, family_name TEXT NOT NULL, aliases TEXT NOT NULL,"
      " dob TEXT NOT NULL, sex TEXT NOT NULL, postcodes TEXT NOT NULL,"
      " nhs_number TEXT, pnc_id TEXT, upn TEXT, ni_number TEXT);"
      "CREATE TABLE IF NOT EXISTS category_records ("
      " id INTEGER PRIMARY KEY,"
      " record_id TEXT NOT NULL REFERENCES persons(record_id),"
      " category TEXT NOT NULL, date TEXT NOT NULL, summary TEXT NOT NULL, record TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS category_records_by_person"
      " ON category_records(record_id, category, date);");
}

Result<std::unique_ptr<RecordStore>> RecordStore::Open(const RecordStoreOptions& options) {
  storage::DatabaseOptions o;
  o.file = options.file;
  o.key_file = options.key_file;
  o.create_if_missing = options.create_if_missing;
  std::unique_ptr<RecordStore> store(new RecordStore());
  MASH_ASSIGN_OR_RETURN(store->db_, storage::Database::Open(o));
  MASH_RETURN_IF_ERROR(CreateRecordStoreSchema(*store->db_));
  store->source_ = options.source.substr(0, 80);

  PersonIndex::Builder builder(options.thresholds);
  {
    MASH_ASSIGN_OR_RETURN(storage::Statement count,
                          store->db_->Prepare("SELECT count(*) FROM persons"));
    MASH_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row) builder.Reserve(static_cast<size_t>(count.ColumnInt(0)));
  }
  MASH_ASSIGN_OR_RETURN(
      storage::Statement all,
      store->db_->Prepare("SELECT record_id, given_names, family_name, aliases, dob, sex, "
                          "postcodes, nhs_number, pnc_id, upn, ni_number FROM persons"));
  while (true) {
    auto row = all.Step();
    if (!row.ok()) return row.status().WithContext("loading person records");
    if (!*row) break;
    schemas::Person p;
    p.given_names = all.ColumnText(1);
    p.family_name = all.ColumnText(2);
    p.aliases = SplitList(all.ColumnText(3));
    p.dob = all.ColumnText(4);
    p.sex = all.ColumnText(5);
    p.postcodes = SplitList(all.ColumnText(6));
    for (int i = 0; i < 4; ++i) {
      if (!all.ColumnIsNull(7 + i))
        p.identifiers[std::string(kIdColumns[i])] = all.ColumnText(7 + i);
    }
    builder.Add(all.ColumnText(0), p);
  }
  store->index_ = std::move(builder).Build();
  common::LogInfo("records.store_loaded", {{"records", store->index_.size()}});
  return store;
}

std::vector<Match> RecordStore::Lookup(const schemas::Person& person) const {
  LookupOptions options;
  options.limit = kMaxStoreMatches;
  return index_.Lookup(person, options);
}

Result<Record> RecordStore::LoadRecord(const std::string& record_id) {
  Record r;
  MASH_ASSIGN_OR_RETURN(storage::Statement ids,
                        db_->Prepare("SELECT nhs_number, pnc_id, upn, ni_number FROM persons "
                                     "WHERE record_id = ?"));
  ids.Bind(1, record_id);
  MASH_ASSIGN_OR_RETURN(bool found, ids.Step());
  if (!found) return DataLoss("a matched person record is no longer in the store");
  for (int i = 0; i < 4; ++i) {
    if (!ids.ColumnIsNull(i)) r.identifiers[std::string(kIdColumns[i])] = ids.ColumnText(i);
  }
  MASH_ASSIGN_OR_RETURN(storage::Statement cats,
                        db_->Prepare("SELECT category, date, summary, record FROM "
                                     "category_records WHERE record_id = ? "
                                     "ORDER BY category, date DESC, id DESC"));
  cats.Bind(1, record_id);
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, cats.Step());
    if (!row) break;
    CategoryRecords& c = r.categories[cats.ColumnText(0)];
    const std::string date = cats.ColumnText(1);
    const std::string summary = cats.ColumnText(2);
    if (c.latest.empty() && c.records.empty()) {
      c.latest = date;  // newest first
    }
    // The category's summary: the record summaries, newest first, within the schema's 4000.
    if (!summary.empty() && c.summary.size() + summary.size() + 2 <= 4000) {
      if (!c.summary.empty()) c.summary += "; ";
      c.summary += summary;
    }
    if (c.records.size() < kMaxRecordsPerCategory) {
      auto record = nlohmann::json::parse(cats.ColumnText(3), nullptr, false);
      if (!record.is_object()) return DataLoss("a stored category record is not a JSON object");
      c.records.push_back(std::move(record));
    }
  }
  return r;
}

Result<std::vector<SourceMatch>> RecordStore::Find(const schemas::QueryBody& query,
                                                   const QueryContext& context) {
  (void)context;
  const std::vector<Match> matches = Lookup(query.subject);
  std::vector<const Match*> chosen;
  for (const auto& m : matches) {
    if (m.band == MatchBand::kConfirmed) chosen.push_back(&m);
  }
  if (chosen.empty()) {
    for (const auto& m : matches) chosen.push_back(&m);  // possible only
  }
  std::vector<SourceMatch> out;
  std::lock_guard lock(mu_);
  for (const Match* m : chosen) {
    SourceMatch s;
    MASH_ASSIGN_OR_RETURN(s.record, LoadRecord(m->record_id));
    s.matched_on = m->agreed;
    s.match = std::string(MatchBandName(m->band));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::optional<std::vector<HouseholdMatch>>> RecordStore::FindHousehold(
    const schemas::QueryBody& query, const QueryContext& context) {
  (void)context;
  std::vector<HouseholdMatch> out;
  for (size_t i = 0; i < query.household.size(); ++i) {
    out.push_back(BestOf(Lookup(query.household[i]), i));
  }
  return std::optional<std::vector<HouseholdMatch>>(std::move(out));
}

}  // namespace mash::agent
