#include "mash/audit/query.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mash/audit/merkle.h"
#include "mash/common/clock.h"
#include "store.h"

namespace mash::audit {
namespace {

std::string CsvField(std::string_view s) {
  bool quote = s.find_first_of(",\"\n\r") != std::string_view::npos;
  // Cells starting with these are formulas to a spreadsheet; prefix them so they stay text.
  const bool number =
      !s.empty() &&
      s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string_view::npos && s != "-";
  const bool formula =
      !number && !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
  std::string out;
  if (formula) {
    out = "'";
    quote = true;
  }
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return quote ? "\"" + out + "\"" : out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ';';
    out += s;
  }
  return out;
}

}  // namespace

Result<std::vector<AuditEvent>> QueryEvents(storage::Database& db, const QueryFilter& f) {
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) return NotFound("no audit log in this database");
  std::string sql = "SELECT e.encoded FROM audit_events e";
  std::vector<std::string> where;
  std::vector<std::string> text_args;
  std::vector<int64_t> int_args;
  // Bound in order: text arguments first (numbered), then the time range.
  if (f.subject) {
    sql += " JOIN audit_subjects s ON s.seq = e.seq";
    where.push_back("s.skey = ?");
    int_args.insert(int_args.begin(), internal::SubjectKey(*f.subject));
  }
  auto text = [&](const std::optional<std::string>& v, const char* col) {
    if (!v) return;
    where.push_back(std::string("e.") + col + " = ?");
    text_args.push_back(*v);
  };
  text(f.person, "person");
  text(f.agency, "agency");
  text(f.purpose, "purpose");
  text(f.lawful_basis, "lawful_basis");
  if (f.type) text(std::string(EventTypeName(*f.type)), "type");
  if (f.outcome) text(std::string(OutcomeName(*f.outcome)), "outcome");
  if (f.from_ms) {
    where.push_back("e.time_ms >= ?");
    int_args.push_back(*f.from_ms);
  }
  if (f.to_ms) {
    where.push_back("e.time_ms < ?");
    int_args.push_back(*f.to_ms);
  }
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += " ORDER BY e.seq LIMIT ?";
  MASH_ASSIGN_OR_RETURN(storage::Statement s, db.Prepare(sql));
  // Placeholders in order: the subject key (first, when given), text filters, the time range.
  int index = 1;
  size_t next_int = 0;
  if (f.subject) s.Bind(index++, int_args[next_int++]);
  for (const auto& t : text_args) s.Bind(index++, t);
  for (; next_int < int_args.size(); ++next_int) s.Bind(index++, int_args[next_int]);
  s.Bind(index, static_cast<int64_t>(std::min<uint64_t>(f.limit, INT64_MAX)));
  std::vector<AuditEvent> out;
  for (;;) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    const Bytes encoded = s.ColumnBlob(0);
    auto e = DecodeEvent(encoded);
    if (!e.ok()) return DataLoss("audit event does not decode; run mashctl audit verify");
    // The subject index is keyed by a 64-bit prefix: keep only exact matches.
    if (f.subject &&
        std::find(e->subjects.begin(), e->subjects.end(), *f.subject) == e->subjects.end()) {
      continue;
    }
    out.push_back(std::move(*e));
  }
  return out;
}

std::string CsvHeader() {
  return "seq,time,type,outcome,person,role,organisation,agency,subjects,check_ref,purpose,"
         "lawful_basis,consent,override_ground,justification_ref,level,categories,rule,"
         "policy_version,envelope_hashes,detail";
}

std::string CsvRow(const AuditEvent& e) {
  std::vector<std::string> cats, hashes;
  for (const auto& c : e.categories) {
    cats.push_back(c.category + ":" + c.disposition + (c.reason.empty() ? "" : ":" + c.reason));
  }
  for (const auto& h : e.envelope_hashes) hashes.push_back(common::HexEncode(h));
  const std::string fields[] = {
      std::to_string(e.seq),
      common::FormatRfc3339(common::TimePoint(std::chrono::milliseconds(e.time_ms))),
      std::string(EventTypeName(e.type)),
      std::string(OutcomeName(e.outcome)),
      e.person,
      e.role,
      e.organisation,
      e.agency,
      Join(e.subjects),
      e.check_ref,
      e.purpose,
      e.lawful_basis,
      e.consent,
      e.override_ground,
      e.justification_ref,
      std::to_string(e.level),
      Join(cats),
      e.rule,
      e.policy_version,
      Join(hashes),
      e.detail,
  };
  std::string out;
  for (size_t i = 0; i < std::size(fields); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  return out;
}

Result<uint64_t> ExportLog(storage::Database& db, std::ostream& out) {
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) return NotFound("no audit log in this database");
  MASH_ASSIGN_OR_RETURN(auto origin, internal::GetMeta(db, "origin"));
  // One read transaction: the checkpoints and the entries are one snapshot.
  MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto run = [&]() -> Result<uint64_t> {
    out << nlohmann::json{{"type", "header"},
                          {"format", "mash-audit-export/v1"},
                          {"origin", origin.value_or("")}}
               .dump()
        << "\n";
    {
      MASH_ASSIGN_OR_RETURN(storage::Statement s,
                            db.Prepare("SELECT text FROM audit_checkpoints ORDER BY id"));
      for (;;) {
        MASH_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        out << nlohmann::json{{"type", "checkpoint"}, {"text", s.ColumnText(0)}}.dump() << "\n";
      }
    }
    MASH_ASSIGN_OR_RETURN(auto seal, internal::GetMeta(db, "seal"));
    if (seal) out << nlohmann::json{{"type", "seal"}, {"text", *seal}}.dump() << "\n";
    uint64_t n = 0;
    {
      MASH_ASSIGN_OR_RETURN(
          storage::Statement s,
          db.Prepare("SELECT seq, leaf_hash, chain FROM audit_purged ORDER BY seq"));
      for (;;) {
        MASH_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        out << nlohmann::json{{"type", "purged"},
                              {"seq", s.ColumnInt(0)},
                              {"leaf_hash", common::Base64Encode(s.ColumnBlob(1))},
                              {"chain", common::Base64Encode(s.ColumnBlob(2))}}
                   .dump()
            << "\n";
        ++n;
      }
    }
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db.Prepare("SELECT seq, encoded, leaf_hash, chain FROM audit_events ORDER BY seq"));
    for (;;) {
      MASH_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const Bytes encoded = s.ColumnBlob(1);
      nlohmann::json line = {{"type", "event"},
                             {"seq", s.ColumnInt(0)},
                             {"encoded", common::Base64Encode(encoded)},
                             {"leaf_hash", common::Base64Encode(s.ColumnBlob(2))},
                             {"chain", common::Base64Encode(s.ColumnBlob(3))}};
      auto e = DecodeEvent(encoded);
      if (e.ok()) line["event"] = EventToJson(*e);
      out << line.dump() << "\n";
      ++n;
    }
    if (!out) return Unavailable("export output failed");
    return n;
  };
  Result<uint64_t> r = run();
  (void)db.Exec("COMMIT");
  return r;
}

}  // namespace mash::audit
