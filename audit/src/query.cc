#include "mash/audit/query.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>

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

namespace {

// The WHERE clause of a filter and its placeholders, bound in order.
struct Where {
  std::string sql;  // " JOIN ... WHERE ..." or ""
  std::vector<std::variant<int64_t, std::string>> args;
  void Bind(storage::Statement& s) const {
    int index = 1;
    for (const auto& a : args) {
      if (const auto* i = std::get_if<int64_t>(&a)) {
        s.Bind(index++, *i);
      } else {
        s.Bind(index++, std::get<std::string>(a));
      }
    }
  }
};

Where MakeWhere(const QueryFilter& f) {
  Where w;
  std::vector<std::string> terms;
  if (f.subject) {
    w.sql += " JOIN audit_subjects s ON s.seq = e.seq";
    terms.push_back("s.skey = ?");
    w.args.emplace_back(internal::SubjectKey(*f.subject));
  }
  auto text = [&](const std::optional<std::string>& v, const char* col) {
    if (!v) return;
    terms.push_back(std::string("e.") + col + " = ?");
    w.args.emplace_back(*v);
  };
  text(f.person, "person");
  text(f.agency, "agency");
  text(f.purpose, "purpose");
  text(f.lawful_basis, "lawful_basis");
  if (f.type) text(std::string(EventTypeName(*f.type)), "type");
  if (f.outcome) text(std::string(OutcomeName(*f.outcome)), "outcome");
  auto number = [&](std::optional<int64_t> v, const char* term) {
    if (!v) return;
    terms.push_back(term);
    w.args.emplace_back(*v);
  };
  number(f.from_ms, "e.time_ms >= ?");
  number(f.to_ms, "e.time_ms < ?");
  auto seq = [](std::optional<uint64_t> v) -> std::optional<int64_t> {
    if (!v) return std::nullopt;
    return static_cast<int64_t>(std::min<uint64_t>(*v, INT64_MAX));
  };
  number(seq(f.after_seq), "e.seq > ?");
  number(seq(f.before_seq), "e.seq < ?");
  for (size_t i = 0; i < terms.size(); ++i) w.sql += (i == 0 ? " WHERE " : " AND ") + terms[i];
  return w;
}

}  // namespace

Result<std::vector<AuditEvent>> QueryEvents(storage::Database& db, const QueryFilter& f) {
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) return NotFound("no audit log in this database");
  const Where where = MakeWhere(f);
  std::string sql = "SELECT e.encoded FROM audit_events e" + where.sql + " ORDER BY e.seq" +
                    (f.newest_first ? " DESC" : "") + " LIMIT ?";
  MASH_ASSIGN_OR_RETURN(storage::Statement s, db.Prepare(sql));
  where.Bind(s);
  s.Bind(static_cast<int>(where.args.size()) + 1,
         static_cast<int64_t>(std::min<uint64_t>(f.limit, INT64_MAX)));
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

Result<uint64_t> CountEvents(storage::Database& db, const QueryFilter& f) {
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) return NotFound("no audit log in this database");
  const Where where = MakeWhere(f);
  if (!f.subject) {
    MASH_ASSIGN_OR_RETURN(storage::Statement s,
                          db.Prepare("SELECT COUNT(*) FROM audit_events e" + where.sql));
    where.Bind(s);
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Internal("COUNT returned no row");
    return static_cast<uint64_t>(s.ColumnInt(0));
  }
  // By subject, only exact matches count: decode each hit of the 64-bit index key.
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db.Prepare("SELECT e.encoded FROM audit_events e" + where.sql));
  where.Bind(s);
  uint64_t n = 0;
  for (;;) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    auto e = DecodeEvent(s.ColumnBlob(0));
    if (!e.ok()) return DataLoss("audit event does not decode; run mashctl audit verify");
    if (std::find(e->subjects.begin(), e->subjects.end(), *f.subject) != e->subjects.end()) ++n;
  }
  return n;
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

Result<std::unique_ptr<ExportCursor>> ExportCursor::Start(storage::Database& db) {
  std::unique_ptr<ExportCursor> c(new ExportCursor(db));
  // One read transaction: the checkpoints and the entries are one snapshot.
  MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  c->in_transaction_ = true;
  MASH_ASSIGN_OR_RETURN(bool has, internal::HasSchema(db));
  if (!has) return NotFound("no audit log in this database");
  MASH_ASSIGN_OR_RETURN(auto origin, internal::GetMeta(db, "origin"));
  c->origin_ = origin.value_or("");
  return c;
}

ExportCursor::~ExportCursor() { End(); }

void ExportCursor::End() {
  stmt_.reset();
  stage_ = Stage::kDone;
  if (in_transaction_) {
    in_transaction_ = false;
    (void)db_.Exec("COMMIT");
  }
}

Status ExportCursor::Open(Stage stage) {
  stage_ = stage;
  stmt_.reset();
  const char* sql = nullptr;
  switch (stage) {
    case Stage::kCheckpoints:
      sql = "SELECT text FROM audit_checkpoints ORDER BY id";
      break;
    case Stage::kPurged:
      sql = "SELECT seq, leaf_hash, chain FROM audit_purged ORDER BY seq";
      break;
    case Stage::kEvents:
      sql = "SELECT seq, encoded, leaf_hash, chain FROM audit_events ORDER BY seq";
      break;
    default:
      return Status::Ok();
  }
  MASH_ASSIGN_OR_RETURN(storage::Statement s, db_.Prepare(sql));
  stmt_.emplace(std::move(s));
  return Status::Ok();
}

Result<bool> ExportCursor::Next(std::string& out, size_t min_bytes) {
  if (stage_ == Stage::kDone) return false;
  const size_t start = out.size();
  auto line = [&out](const nlohmann::json& j) {
    out += j.dump();
    out += '\n';
  };
  while (stage_ != Stage::kDone && out.size() - start < std::max<size_t>(min_bytes, 1)) {
    switch (stage_) {
      case Stage::kHeader:
        line({{"type", "header"}, {"format", "mash-audit-export/v1"}, {"origin", origin_}});
        MASH_RETURN_IF_ERROR(Open(Stage::kCheckpoints));
        break;
      case Stage::kCheckpoints: {
        MASH_ASSIGN_OR_RETURN(bool row, stmt_->Step());
        if (row) {
          line({{"type", "checkpoint"}, {"text", stmt_->ColumnText(0)}});
        } else {
          MASH_RETURN_IF_ERROR(Open(Stage::kSeal));
        }
        break;
      }
      case Stage::kSeal: {
        MASH_ASSIGN_OR_RETURN(auto seal, internal::GetMeta(db_, "seal"));
        if (seal) line({{"type", "seal"}, {"text", *seal}});
        MASH_RETURN_IF_ERROR(Open(Stage::kPurged));
        break;
      }
      case Stage::kPurged: {
        MASH_ASSIGN_OR_RETURN(bool row, stmt_->Step());
        if (row) {
          line({{"type", "purged"},
                {"seq", stmt_->ColumnInt(0)},
                {"leaf_hash", common::Base64Encode(stmt_->ColumnBlob(1))},
                {"chain", common::Base64Encode(stmt_->ColumnBlob(2))}});
          ++entries_;
        } else {
          MASH_RETURN_IF_ERROR(Open(Stage::kEvents));
        }
        break;
      }
      case Stage::kEvents: {
        MASH_ASSIGN_OR_RETURN(bool row, stmt_->Step());
        if (!row) {
          End();
          break;
        }
        const Bytes encoded = stmt_->ColumnBlob(1);
        nlohmann::json j = {{"type", "event"},
                            {"seq", stmt_->ColumnInt(0)},
                            {"encoded", common::Base64Encode(encoded)},
                            {"leaf_hash", common::Base64Encode(stmt_->ColumnBlob(2))},
                            {"chain", common::Base64Encode(stmt_->ColumnBlob(3))}};
        auto e = DecodeEvent(encoded);
        if (e.ok()) j["event"] = EventToJson(*e);
        line(j);
        ++entries_;
        break;
      }
      case Stage::kDone:
        break;
    }
  }
  return out.size() > start;
}

Result<uint64_t> ExportLog(storage::Database& db, std::ostream& out) {
  MASH_ASSIGN_OR_RETURN(auto cursor, ExportCursor::Start(db));
  std::string chunk;
  for (;;) {
    chunk.clear();
    MASH_ASSIGN_OR_RETURN(bool more, cursor->Next(chunk, 64 * 1024));
    if (!more) break;
    out << chunk;
    if (!out) return Unavailable("export output failed");
  }
  return cursor->entries();
}

}  // namespace mash::audit
