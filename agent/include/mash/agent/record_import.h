// `mash-agent import` (docs/agent.md "Importing records"): reads an agency's export of person
// records and category records, CSV (RFC 4180: a header row, "" inside quotes, CRLF or LF, line
// breaks inside quoted fields) or JSON (one array of objects, or JSON lines), maps its columns to
// the store's fields with the [records.import] mapping of agent.toml, and writes everything into
// the record store (record_store.h) in one transaction with prepared statements.
//
// A row that cannot be imported is reported with the line it starts on and the reason, never its
// contents, and the other rows are imported. A problem with a whole file (unreadable, empty, no
// header, a mapped column missing from the header) imports nothing. An identifier that fails
// validation (an NHS number whose Modulus 11 check digit is wrong, a malformed PNC id, UPN or NI
// number) is left out of the identifier fields and counted as a warning; the row is imported.
//
// Thread safety: functions are safe from any thread on distinct databases.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::agent {

enum class ImportFormat { kCsv, kJson };
enum class DateFormat { kIso, kDayMonthYear };  // YYYY-MM-DD, DD/MM/YYYY

// Column names of the people file. Each defaults to the store field's own name, so that a file
// written by `mash-synth --import` needs no mapping. An empty name: the file has no such column.
struct PeopleMapping {
  std::string record_id = "record_id";
  std::string given_names = "given_names";
  std::string family_name = "family_name";
  std::string aliases = "aliases";
  std::string alias_separator = ";";  // between aliases in one CSV field
  std::string dob = "dob";
  DateFormat dob_format = DateFormat::kIso;
  std::string sex = "sex";
  // Lower-cased values of the sex column -> female | male | other | unknown, on top of the
  // built-in f/female, m/male, o/other, u/unknown/not known.
  std::map<std::string, std::string> sex_values;
  std::string postcodes = "postcodes";
  std::string postcode_separator = ";";
  std::string nhs_number = "nhs_number";
  std::string pnc_id = "pnc_id";
  std::string upn = "upn";
  std::string ni_number = "ni_number";
};

// Column names of the category records file; every other non-empty column is kept as a field of
// the record object (at most kMaxRecordFields of them).
struct CategoryMapping {
  std::string record_id = "record_id";  // the person record it belongs to
  std::string category = "category";    // ^[a-z][a-z0-9_]{1,47}$ after mapping
  // Values of the category column -> category names, e.g. {"DA" = "domestic_abuse"}; values
  // without an entry must already be category names.
  std::map<std::string, std::string> category_values;
  std::string date = "date";
  DateFormat date_format = DateFormat::kIso;
  std::string summary = "summary";
};

inline constexpr size_t kMaxRecordFields = 30;

struct ImportMapping {
  ImportFormat format = ImportFormat::kCsv;
  PeopleMapping people;
  CategoryMapping records;
};

// "csv" | "json"; "YYYY-MM-DD" | "DD/MM/YYYY".
std::optional<ImportFormat> ParseImportFormat(std::string_view name);
std::optional<DateFormat> ParseDateFormat(std::string_view name);
// The date in `format` as YYYY-MM-DD when it is a real calendar date (1880-2199); nullopt
// otherwise.
std::optional<std::string> ParseImportDate(std::string_view text, DateFormat format);

struct ImportProblem {
  std::string file;  // "people" | "records"
  size_t line = 0;   // the line the row starts on (1 is the header of a CSV file)
  std::string reason;
};

struct ImportReport {
  size_t people = 0;                    // person rows imported
  size_t records = 0;                   // category record rows imported
  size_t warnings = 0;                  // invalid identifiers left out, unknown sex values
  std::vector<ImportProblem> bad_rows;  // rows not imported (the first kMaxReportedProblems)
  size_t bad_row_count = 0;
};
inline constexpr size_t kMaxReportedProblems = 1000;

struct ImportOptions {
  std::optional<std::filesystem::path> people;   // people file
  std::optional<std::filesystem::path> records;  // category records file
  bool replace = false;                          // empty the store first (in the same transaction)
};

// Imports into `db` (tables created if missing). Errors (nothing imported, the transaction
// rolled back): InvalidArgument for a problem with a whole file ("people: line 1: no header",
// "records: missing column 'category'"), NotFound / Unavailable when a file cannot be read,
// storage errors. Bad rows are not errors: they are in the report.
Result<ImportReport> ImportRecords(storage::Database& db, const ImportMapping& mapping,
                                   const ImportOptions& options);

// `text` with every byte that is not part of a valid UTF-8 sequence dropped (the importer refuses
// rows that are not UTF-8; mash-synth's byte-level typos can split a multi-byte character).
std::string DropInvalidUtf8(std::string_view text);

// CSV writing for `mash-synth --import`: one row, fields quoted when they hold a comma, a quote
// or a line break, ended with "\r\n".
std::string CsvRow(const std::vector<std::string>& fields);

}  // namespace mash::agent
