#include "mash/agent/record_import.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <unordered_map>

#include "mash/agent/names.h"
#include "mash/agent/record_store.h"

namespace mash::agent {
namespace {

constexpr size_t kMaxField = 64 * 1024;          // one CSV field
constexpr size_t kMaxJsonElement = 1024 * 1024;  // one JSON object
constexpr int kMaxJsonDepth = 8;
constexpr size_t kMaxName = 200;  // the query-body schema's limits
constexpr size_t kMaxList = 20;
constexpr size_t kMaxRecordId = 128;
constexpr size_t kMaxSummary = 4000;
constexpr size_t kMaxFieldName = 64;
constexpr size_t kMaxFieldValue = 4000;
constexpr char kListSeparator = '\x1f';  // how the store joins aliases and postcodes

// Buffered bytes of a file with the number of the line being read.
class ByteReader {
 public:
  static Result<std::unique_ptr<ByteReader>> Open(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return NotFound("no such file");
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Unavailable("cannot open the file");
    return std::unique_ptr<ByteReader>(new ByteReader(f));
  }
  ~ByteReader() { std::fclose(f_); }
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  // The next byte, or -1 at the end (or on a read error: see failed()).
  int Get() {
    if (pos_ == len_ && !Fill()) return -1;
    const auto c = static_cast<unsigned char>(buf_[pos_++]);
    if (c == '\n') ++line_;
    return c;
  }
  int Peek() {
    if (pos_ == len_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  size_t line() const { return line_; }
  bool failed() const { return std::ferror(f_) != 0; }

 private:
  explicit ByteReader(FILE* f) : f_(f), buf_(1 << 20) {}
  bool Fill() {
    len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
    pos_ = 0;
    return len_ > 0;
  }
  FILE* f_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  size_t line_ = 1;
};

// The length of the valid UTF-8 sequence at s[i] (a NUL counts as invalid), or 0.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return c == 0 ? 0 : 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 1, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 2, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 3, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n >= s.size()) return 0;
  for (size_t k = 1; k <= n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n + 1;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string Trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  if (sep.empty()) sep = ";";
  size_t start = 0;
  while (true) {
    const auto p = s.find(sep, start);
    std::string part = Trim(s.substr(start, p == std::string_view::npos ? p : p - start));
    if (!part.empty()) out.push_back(std::move(part));
    if (p == std::string_view::npos) break;
    start = p + sep.size();
  }
  return out;
}

// ---- Rows ----

// One row of an import file as column -> value; the readers below fill it.
class Row {
 public:
  virtual ~Row() = default;
  // "" when the column is absent or empty. Error: a JSON value that is not a scalar.
  virtual Result<std::string> Get(const std::string& column) const = 0;
  virtual Result<std::vector<std::string>> GetList(const std::string& column,
                                                   std::string_view separator) const = 0;
  // Every non-empty column not in `mapped`, as a JSON scalar.
  virtual Result<std::vector<std::pair<std::string, nlohmann::json>>> Others(
      const std::set<std::string>& mapped) const = 0;
};

// Reads rows one at a time. Next: false at the end; a row that cannot be read sets `error`
// (and the reader resumes after it). Errors: a problem with the whole file.
class RowReader {
 public:
  virtual ~RowReader() = default;
  virtual Result<bool> Next(size_t* line, std::string* error) = 0;
  virtual const Row& row() const = 0;
  // Mapped columns absent from the header (CSV): reported as notes, left empty.
  virtual bool HasColumn(const std::string& column) const = 0;
};

class CsvRow final : public Row {
 public:
  std::unordered_map<std::string, size_t> index;
  std::vector<std::string> header;
  std::vector<std::string> fields;

  Result<std::string> Get(const std::string& column) const override {
    const auto it = index.find(column);
    if (column.empty() || it == index.end()) return std::string();
    return Trim(fields[it->second]);
  }
  Result<std::vector<std::string>> GetList(const std::string& column,
                                           std::string_view separator) const override {
    MASH_ASSIGN_OR_RETURN(std::string v, Get(column));
    return Split(v, separator);
  }
  Result<std::vector<std::pair<std::string, nlohmann::json>>> Others(
      const std::set<std::string>& mapped) const override {
    std::vector<std::pair<std::string, nlohmann::json>> out;
    for (size_t i = 0; i < header.size(); ++i) {
      if (mapped.count(header[i]) != 0) continue;
      std::string v = Trim(fields[i]);
      if (!v.empty()) out.emplace_back(header[i], std::move(v));
    }
    return out;
  }
};

class CsvReader final : public RowReader {
 public:
  explicit CsvReader(std::unique_ptr<ByteReader> in) : in_(std::move(in)) {}

  Status ReadHeader() {
    size_t line = 0;
    std::string error;
    bool got = false;
    do {
      MASH_ASSIGN_OR_RETURN(got, ReadFields(&line, &error));
    } while (got && error.empty() && row_.fields.size() == 1 && row_.fields[0].empty());
    if (!got) return InvalidArgument("empty file: no header row");
    if (!error.empty()) return InvalidArgument("line 1: header row: " + error);
    for (size_t i = 0; i < row_.fields.size(); ++i) {
      std::string name = Trim(row_.fields[i]);
      if (i == 0 && name.rfind("\xef\xbb\xbf", 0) == 0) name = name.substr(3);  // UTF-8 BOM
      if (name.empty()) return InvalidArgument("line 1: header row has an empty column name");
      if (!row_.index.emplace(name, i).second) {
        return InvalidArgument("line 1: header row names a column twice");
      }
      row_.header.push_back(std::move(name));
    }
    return Status::Ok();
  }

  Result<bool> Next(size_t* line, std::string* error) override {
    while (true) {
      MASH_ASSIGN_OR_RETURN(bool got, ReadFields(line, error));
      if (!got) return false;
      if (!error->empty()) return true;
      if (row_.fields.size() == 1 && row_.fields[0].empty()) continue;  // blank line
      if (row_.fields.size() != row_.header.size()) {
        *error = std::to_string(row_.fields.size()) + " fields, the header has " +
                 std::to_string(row_.header.size());
      }
      return true;
    }
  }
  const Row& row() const override { return row_; }
  bool HasColumn(const std::string& column) const override { return row_.index.count(column) != 0; }

 private:
  // One record of fields (RFC 4180). On a malformed record, `error` is set and the rest of its
  // physical line skipped.
  Result<bool> ReadFields(size_t* line, std::string* error) {
    error->clear();
    auto& fields = row_.fields;
    fields.clear();
    if (in_->Peek() < 0) {
      if (in_->failed()) return Unavailable("read error");
      return false;
    }
    *line = in_->line();
    enum { kStart, kUnquoted, kQuoted, kAfterQuote } state = kStart;
    std::string cur;
    const auto fail = [&](std::string reason) {
      *error = std::move(reason);
      int c;
      while ((c = in_->Get()) >= 0 && c != '\n') {
      }
      return true;
    };
    while (true) {
      const int c = in_->Get();
      if (c < 0) {
        if (in_->failed()) return Unavailable("read error");
        if (state == kQuoted) {
          *error = "unterminated quoted field (the rest of the file is part of it)";
          return true;
        }
        fields.push_back(std::move(cur));
        break;
      }
      if (c == 0) return fail("NUL byte");
      if (cur.size() > kMaxField) return fail("field longer than 64 KiB");
      if (state == kQuoted) {
        if (c == '"') {
          state = kAfterQuote;
        } else {
          cur.push_back(static_cast<char>(c));
        }
        continue;
      }
      if (c == '\r' && in_->Peek() == '\n') continue;
      if (c == ',' || c == '\n') {
        fields.push_back(std::move(cur));
        cur.clear();
        if (c == '\n') break;
        state = kStart;
        continue;
      }
      if (state == kAfterQuote) {
        if (c != '"') return fail("characters after a closing quote");
        cur.push_back('"');
        state = kQuoted;
        continue;
      }
      if (c == '"') {
        if (state != kStart) return fail("quote inside an unquoted field");
        state = kQuoted;
        continue;
      }
      state = kUnquoted;
      cur.push_back(static_cast<char>(c));
    }
    for (const auto& f : fields) {
      if (!ValidUtf8(f)) {
        *error = "not UTF-8 text";
        return true;
      }
    }
    return true;
  }

  std::unique_ptr<ByteReader> in_;
  CsvRow row_;
};

class JsonRow final : public Row {
 public:
  nlohmann::json doc;

  static Result<std::string> Scalar(const nlohmann::json& v, const std::string& column) {
    if (v.is_null()) return std::string();
    if (v.is_string()) return Trim(v.get<std::string>());
    if (v.is_number() || v.is_boolean()) return v.dump();
    return InvalidArgument("field '" + column + "' is not a string");
  }
  Result<std::string> Get(const std::string& column) const override {
    const auto it = doc.find(column);
    if (column.empty() || it == doc.end()) return std::string();
    return Scalar(*it, column);
  }
  Result<std::vector<std::string>> GetList(const std::string& column,
                                           std::string_view separator) const override {
    const auto it = doc.find(column);
    if (column.empty() || it == doc.end()) return std::vector<std::string>();
    if (!it->is_array()) {
      MASH_ASSIGN_OR_RETURN(std::string v, Scalar(*it, column));
      return Split(v, separator);
    }
    std::vector<std::string> out;
    for (const auto& e : *it) {
      MASH_ASSIGN_OR_RETURN(std::string v, Scalar(e, column));
      if (!v.empty()) out.push_back(std::move(v));
    }
    return out;
  }
  Result<std::vector<std::pair<std::string, nlohmann::json>>> Others(
      const std::set<std::string>& mapped) const override {
    std::vector<std::pair<std::string, nlohmann::json>> out;
    for (const auto& [k, v] : doc.items()) {
      if (mapped.count(k) != 0 || v.is_null()) continue;
      if (v.is_string()) {
        std::string s = Trim(v.get<std::string>());
        if (!s.empty()) out.emplace_back(k, std::move(s));
      } else if (v.is_number() || v.is_boolean()) {
        out.emplace_back(k, v);
      } else {
        return InvalidArgument("field '" + k + "' is not a scalar");
      }
    }
    return out;
  }
};

// One JSON array of objects, or JSON lines (one object per line). Elements are cut out of the
// text by a scanner that knows strings and nesting, so that each is parsed on its own and a bad
// one costs only itself, with the line it starts on.
class JsonReader final : public RowReader {
 public:
  explicit JsonReader(std::unique_ptr<ByteReader> in) : in_(std::move(in)) {}

  Status Start() {
    SkipSpace();
    const int c = in_->Peek();
    if (c < 0) return InvalidArgument("empty file");
    if (c == '[') {
      in_->Get();
      array_ = true;
    } else if (c != '{') {
      return InvalidArgument("line " + std::to_string(in_->line()) +
                             ": not a JSON array or JSON lines");
    }
    return Status::Ok();
  }

  Result<bool> Next(size_t* line, std::string* error) override {
    error->clear();
    if (done_) return false;
    SkipSpace();
    if (array_) {
      if (in_->Peek() == ']') {
        in_->Get();
        done_ = true;
        SkipSpace();
        if (in_->Peek() >= 0) {
          *line = in_->line();
          *error = "text after the end of the array";
          return true;
        }
        return false;
      }
    }
    if (in_->Peek() < 0) {
      if (in_->failed()) return Unavailable("read error");
      if (array_) {
        done_ = true;
        *line = in_->line();
        *error = "file ends inside the array";
        return true;
      }
      return false;
    }
    *line = in_->line();
    std::string text;
    int depth = 0;
    bool in_string = false, escape = false, too_deep = false, bad_byte = false;
    while (true) {
      const int c = in_->Peek();
      if (c < 0) break;
      if (!in_string && depth == 0 && !text.empty()) {
        if (array_ && (c == ',' || c == ']')) break;
        if (!array_ && c == '\n') break;
      }
      if (!array_ && c == '\n' && !in_string) break;  // a JSON line ends at its newline
      in_->Get();
      if (c == 0) bad_byte = true;
      if (text.size() <= kMaxJsonElement) text.push_back(static_cast<char>(c));
      if (in_string) {
        if (escape) {
          escape = false;
        } else if (c == '\\') {
          escape = true;
        } else if (c == '"') {
          in_string = false;
        } else if (c == '\n') {
          break;  // a raw line break cannot be inside a JSON string: resynchronise here
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (++depth > kMaxJsonDepth) too_deep = true;
      } else if (c == '}' || c == ']') {
        --depth;
      }
    }
    if (array_ && in_->Peek() == ',') in_->Get();
    if (array_ && in_->Peek() < 0 && (in_string || depth != 0)) done_ = true;
    if (bad_byte) {
      *error = "NUL byte";
    } else if (text.size() > kMaxJsonElement) {
      *error = "object larger than 1 MiB";
    } else if (too_deep) {
      *error = "nested too deeply";
    } else if (!ValidUtf8(text)) {
      *error = "not UTF-8 text";
    } else {
      row_.doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (row_.doc.is_discarded()) {
        *error = "not valid JSON";
      } else if (!row_.doc.is_object()) {
        *error = "not a JSON object";
      }
    }
    return true;
  }
  const Row& row() const override { return row_; }
  bool HasColumn(const std::string&) const override { return true; }

 private:
  void SkipSpace() {
    while (true) {
      const int c = in_->Peek();
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return;
      in_->Get();
    }
  }
  std::unique_ptr<ByteReader> in_;
  JsonRow row_;
  bool array_ = false;
  bool done_ = false;
};

Result<std::unique_ptr<RowReader>> OpenReader(const std::filesystem::path& path,
                                              ImportFormat format) {
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<ByteReader> bytes, ByteReader::Open(path));
  if (format == ImportFormat::kCsv) {
    auto r = std::make_unique<CsvReader>(std::move(bytes));
    MASH_RETURN_IF_ERROR(r->ReadHeader());
    return std::unique_ptr<RowReader>(std::move(r));
  }
  auto r = std::make_unique<JsonReader>(std::move(bytes));
  MASH_RETURN_IF_ERROR(r->Start());
  return std::unique_ptr<RowReader>(std::move(r));
}

// ---- Mapping rows to the store ----

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out.push_back(kListSeparator);
    out += i;
  }
  return out;
}

// A text value fit for the store: bounded, without the list separator or control characters.
bool CleanText(std::string_view s, size_t max) {
  if (s.size() > max) return false;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return false;
  }
  return true;
}

std::optional<std::string> MapSex(const std::string& value, const PeopleMapping& m) {
  const std::string v = Lower(value);
  if (const auto it = m.sex_values.find(v); it != m.sex_values.end()) return it->second;
  static const std::map<std::string, std::string> kBuiltIn = {
      {"f", "female"},          {"female", "female"}, {"m", "male"},    {"male", "male"},
      {"o", "other"},           {"other", "other"},   {"u", "unknown"}, {"unknown", "unknown"},
      {"not known", "unknown"}, {"x", "other"}};
  if (const auto it = kBuiltIn.find(v); it != kBuiltIn.end()) return it->second;
  return std::nullopt;
}

struct Inserters {
  std::optional<storage::Statement> person;
  std::optional<storage::Statement> record;
  std::optional<storage::Statement> person_exists;
};

class Importer {
 public:
  Importer(storage::Database& db, const ImportMapping& mapping, ImportReport& report)
      : db_(db), m_(mapping), report_(report) {}

  Status Prepare() {
    const auto prepare = [&](std::optional<storage::Statement>* out,
                             std::string_view sql) -> Status {
      auto st = db_.Prepare(sql);
      if (!st.ok()) return st.status();
      out->emplace(std::move(st).value());
      return Status::Ok();
    };
    MASH_RETURN_IF_ERROR(prepare(&ins_.person,
                                 "INSERT INTO persons (record_id, given_names, family_name, "
                                 "aliases, dob, sex, postcodes, nhs_number, pnc_id, upn, "
                                 "ni_number) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
    MASH_RETURN_IF_ERROR(prepare(&ins_.record,
                                 "INSERT INTO category_records (record_id, category, date, "
                                 "summary, record) VALUES (?,?,?,?,?)"));
    MASH_RETURN_IF_ERROR(prepare(&ins_.person_exists, "SELECT 1 FROM persons WHERE record_id = ?"));
    return Status::Ok();
  }

  Status People(const std::filesystem::path& path) {
    auto reader = OpenReader(path, m_.format);
    if (!reader.ok()) return reader.status().WithContext("people");
    const PeopleMapping& p = m_.people;
    MASH_RETURN_IF_ERROR(RequireColumn(**reader, "people", p.record_id, "record_id"));
    size_t line = 0;
    std::string error;
    while (true) {
      auto more = (*reader)->Next(&line, &error);
      if (!more.ok()) return more.status().WithContext("people");
      if (!*more) break;
      if (error.empty()) error = PersonRow((*reader)->row());
      if (!error.empty()) {
        Bad("people", line, std::move(error));
      } else {
        ++report_.people;
      }
    }
    return Status::Ok();
  }

  Status Records(const std::filesystem::path& path) {
    auto reader = OpenReader(path, m_.format);
    if (!reader.ok()) return reader.status().WithContext("records");
    const CategoryMapping& c = m_.records;
    MASH_RETURN_IF_ERROR(RequireColumn(**reader, "records", c.record_id, "record_id"));
    MASH_RETURN_IF_ERROR(RequireColumn(**reader, "records", c.category, "category"));
    mapped_ = {c.record_id, c.category, c.date, c.summary};
    size_t line = 0;
    std::string error;
    while (true) {
      auto more = (*reader)->Next(&line, &error);
      if (!more.ok()) return more.status().WithContext("records");
      if (!*more) break;
      if (error.empty()) error = RecordRow((*reader)->row());
      if (!error.empty()) {
        Bad("records", line, std::move(error));
      } else {
        ++report_.records;
      }
    }
    return Status::Ok();
  }

 private:
  static Status RequireColumn(const RowReader& r, std::string_view file, const std::string& column,
                              std::string_view field) {
    if (column.empty()) {
      return InvalidArgument(std::string(file) + ": the mapping names no column for " +
                             std::string(field));
    }
    if (!r.HasColumn(column)) {
      return InvalidArgument(std::string(file) + ": line 1: the header has no column '" + column +
                             "' (" + std::string(field) + ")");
    }
    return Status::Ok();
  }

  void Bad(std::string file, size_t line, std::string reason) {
    ++report_.bad_row_count;
    if (report_.bad_rows.size() < kMaxReportedProblems) {
      report_.bad_rows.push_back({std::move(file), line, std::move(reason)});
    }
  }

  // "" when the row went in; otherwise why not.
  std::string PersonRow(const Row& row) {
    const PeopleMapping& p = m_.people;
    auto text = [&](const std::string& column, std::string_view field, size_t max,
                    std::string* out) -> std::string {
      auto v = row.Get(column);
      if (!v.ok()) return v.status().message();
      if (!CleanText(*v, max)) {
        return std::string(field) + " is longer than " + std::to_string(max) +
               " characters or holds control characters";
      }
      *out = std::move(*v);
      return {};
    };
    std::string record_id, given, family, dob_text, sex_text;
    for (const auto& [column, field, max, out] :
         {std::tuple{&p.record_id, "record_id", kMaxRecordId, &record_id},
          std::tuple{&p.given_names, "given_names", kMaxName, &given},
          std::tuple{&p.family_name, "family_name", kMaxName, &family},
          std::tuple{&p.dob, "dob", kMaxName, &dob_text},
          std::tuple{&p.sex, "sex", kMaxName, &sex_text}}) {
      if (std::string e = text(*column, field, max, out); !e.empty()) return e;
    }
    if (record_id.empty()) return "no record_id";
    auto aliases = row.GetList(p.aliases, p.alias_separator);
    if (!aliases.ok()) return aliases.status().message();
    if (aliases->size() > kMaxList) return "more than 20 aliases";
    for (const auto& a : *aliases) {
      if (!CleanText(a, kMaxName)) return "an alias is longer than 200 characters";
    }
    std::string dob;
    if (!dob_text.empty()) {
      const auto d = ParseImportDate(dob_text, p.dob_format);
      if (!d) {
        return std::string("dob is not a date in the format ") +
               (p.dob_format == DateFormat::kIso ? "YYYY-MM-DD" : "DD/MM/YYYY");
      }
      dob = *d;
    }
    std::string sex;
    if (!sex_text.empty()) {
      if (const auto s = MapSex(sex_text, p)) {
        sex = *s;
      } else {
        ++report_.warnings;
      }
    }
    auto postcode_list = row.GetList(p.postcodes, p.postcode_separator);
    if (!postcode_list.ok()) return postcode_list.status().message();
    std::vector<std::string> postcodes;
    for (const auto& pc : *postcode_list) {
      if (auto n = NormalisePostcode(pc); n && postcodes.size() < kMaxList) {
        postcodes.push_back(std::move(*n));
      } else {
        ++report_.warnings;
      }
    }
    std::string ids[4];
    bool any_id = false;
    const std::pair<const std::string*, std::string_view> kinds[4] = {{&p.nhs_number, "nhs_number"},
                                                                      {&p.pnc_id, "pnc_id"},
                                                                      {&p.upn, "upn"},
                                                                      {&p.ni_number, "ni_number"}};
    for (int i = 0; i < 4; ++i) {
      auto v = row.Get(*kinds[i].first);
      if (!v.ok()) return v.status().message();
      if (v->empty()) continue;
      if (auto c = CanonicalIdentifier(kinds[i].second, *v)) {
        ids[i] = std::move(*c);
        any_id = true;
      } else {
        ++report_.warnings;  // never trusted, never stored as an identifier
      }
    }
    if (given.empty() && family.empty() && !any_id) return "no name and no valid identifier";

    storage::Statement& s = *ins_.person;
    s.Reset();
    s.Bind(1, record_id).Bind(2, given).Bind(3, family).Bind(4, JoinList(*aliases)).Bind(5, dob);
    s.Bind(6, sex).Bind(7, JoinList(postcodes));
    for (int i = 0; i < 4; ++i) {
      if (ids[i].empty()) {
        s.BindNull(8 + i);
      } else {
        s.Bind(8 + i, ids[i]);
      }
    }
    const Status st = s.Run();
    if (st.code() == StatusCode::kAlreadyExists) return "record_id is already in the store";
    if (!st.ok()) {
      failure_ = st;
      return "not stored";
    }
    return {};
  }

  std::string RecordRow(const Row& row) {
    const CategoryMapping& c = m_.records;
    auto record_id = row.Get(c.record_id);
    if (!record_id.ok()) return record_id.status().message();
    if (record_id->empty()) return "no record_id";
    if (!CleanText(*record_id, kMaxRecordId)) return "record_id is longer than 128 characters";
    auto category = row.Get(c.category);
    if (!category.ok()) return category.status().message();
    std::string name = *category;
    if (const auto it = c.category_values.find(name); it != c.category_values.end()) {
      name = it->second;
    }
    static const std::regex kCategory("^[a-z][a-z0-9_]{1,47}$");
    if (!std::regex_match(name, kCategory)) {
      return "category is not a category name (map it with category_values)";
    }
    auto date_text = row.Get(c.date);
    if (!date_text.ok()) return date_text.status().message();
    std::string date;
    if (!date_text->empty()) {
      const auto d = ParseImportDate(*date_text, c.date_format);
      if (!d) {
        return std::string("date is not a date in the format ") +
               (c.date_format == DateFormat::kIso ? "YYYY-MM-DD" : "DD/MM/YYYY");
      }
      date = *d;
    }
    auto summary = row.Get(c.summary);
    if (!summary.ok()) return summary.status().message();
    if (summary->size() > kMaxSummary) return "summary is longer than 4000 characters";
    auto others = row.Others(mapped_);
    if (!others.ok()) return others.status().message();
    if (others->size() > kMaxRecordFields) return "more than 30 record fields";
    nlohmann::json record = nlohmann::json::object();
    if (!date.empty()) record["date"] = date;
    for (auto& [k, v] : *others) {
      if (k.size() > kMaxFieldName ||
          (v.is_string() && v.get_ref<const std::string&>().size() > kMaxFieldValue)) {
        return "a record field is too long";
      }
      record[k] = std::move(v);
    }

    storage::Statement& exists = *ins_.person_exists;
    exists.Reset();
    exists.Bind(1, *record_id);
    auto found = exists.Step();
    if (!found.ok()) {
      failure_ = found.status();
      return "not stored";
    }
    exists.Reset();
    if (!*found) return "no person with this record_id";
    storage::Statement& s = *ins_.record;
    s.Reset();
    s.Bind(1, *record_id).Bind(2, name).Bind(3, date).Bind(4, *summary).Bind(5, record.dump());
    if (const Status st = s.Run(); !st.ok()) {
      failure_ = st;
      return "not stored";
    }
    return {};
  }

 public:
  Status failure() const { return failure_; }

 private:
  storage::Database& db_;
  const ImportMapping& m_;
  ImportReport& report_;
  Inserters ins_{};
  std::set<std::string> mapped_;
  Status failure_;
};

}  // namespace

std::optional<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "csv") return ImportFormat::kCsv;
  if (name == "json") return ImportFormat::kJson;
  return std::nullopt;
}

std::optional<DateFormat> ParseDateFormat(std::string_view name) {
  if (name == "YYYY-MM-DD") return DateFormat::kIso;
  if (name == "DD/MM/YYYY") return DateFormat::kDayMonthYear;
  return std::nullopt;
}

std::optional<std::string> ParseImportDate(std::string_view text, DateFormat format) {
  if (format == DateFormat::kIso) {
    if (!ParseDob(text)) return std::nullopt;
    return std::string(text);
  }
  // DD/MM/YYYY, one-digit day and month allowed.
  const auto a = text.find('/');
  const auto b = text.find('/', a == std::string_view::npos ? a : a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) return std::nullopt;
  std::string_view d = text.substr(0, a), m = text.substr(a + 1, b - a - 1), y = text.substr(b + 1);
  if (d.empty() || d.size() > 2 || m.empty() || m.size() > 2 || y.size() != 4) return std::nullopt;
  std::string iso = std::string(y) + "-" + (m.size() == 1 ? "0" : "") + std::string(m) + "-" +
                    (d.size() == 1 ? "0" : "") + std::string(d);
  if (!ParseDob(iso)) return std::nullopt;
  return iso;
}

Result<ImportReport> ImportRecords(storage::Database& db, const ImportMapping& mapping,
                                   const ImportOptions& options) {
  if (!options.people && !options.records) return InvalidArgument("nothing to import");
  MASH_RETURN_IF_ERROR(CreateRecordStoreSchema(db));
  ImportReport report;
  const Status done = db.InTransaction([&]() -> Status {
    if (options.replace) {
      MASH_RETURN_IF_ERROR(db.Exec("DELETE FROM category_records; DELETE FROM persons;"));
    }
    Importer importer(db, mapping, report);
    MASH_RETURN_IF_ERROR(importer.Prepare());
    if (options.people) MASH_RETURN_IF_ERROR(importer.People(*options.people));
    if (options.records) MASH_RETURN_IF_ERROR(importer.Records(*options.records));
    return importer.failure();
  });
  if (!done.ok()) return done;
  return report;
}

std::string DropInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceAt(text, i);
    if (n == 0) {
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string CsvRow(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out.push_back('"');
    for (const char c : f) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out += "\r\n";
  return out;
}

}  // namespace mash::agent
