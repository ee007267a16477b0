// `mashctl audit …`: offline tools over the broker's audit database or an export
// (docs/mashctl.md §audit, docs/audit.md). They read the SQLCipher file directly, so they run on
// the broker host (or on a copy); `export` appends an audit event and must not run while the
// broker holds the log (AuditLog takes a lock and refuses). `audit alerts` and
// `audit acknowledge` work the broker's alert queue over its API and are registered in
// mashctl.cc, beside the other commands that connect.
#include <time.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command_group.h"
#include "mash/audit/log.h"
#include "mash/audit/query.h"
#include "mash/audit/verify.h"
#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/pseudonym.h"
#include "mash/storage/database.h"

namespace mash::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct DbFlags {
  std::string db;
  std::string db_key;
};

void AddDbOptions(CLI::App* app, DbFlags* f, bool required = true) {
  auto* db = app->add_option("--db", f->db, "audit database (SQLCipher)")->type_name("FILE");
  auto* key = app->add_option("--db-key", f->db_key, "database key file (0600)")->type_name("FILE");
  if (required) {
    db->required();
    key->required();
  }
}

Result<std::unique_ptr<storage::Database>> OpenExisting(const DbFlags& f) {
  storage::DatabaseOptions o;
  o.file = f.db;
  o.key_file = f.db_key;
  o.create_if_missing = false;
  return storage::Database::Open(o);
}

// "2026-11-22", "2026-11-22T08:00:00Z" or Unix seconds -> Unix milliseconds.
std::optional<int64_t> ParseTime(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 12) {
    return std::stoll(s) * 1000;
  }
  struct tm tm = {};
  const char* end = nullptr;
  if (s.size() == 10) {
    end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  } else {
    end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

struct Output {
  bool json = false;
  bool csv = false;
};

void AddOutputOptions(CLI::App* app, Output* o) {
  auto* j = app->add_flag("--json", o->json, "one JSON object per line");
  app->add_flag("--csv", o->csv, "CSV with a header row")->excludes(j);
}

void PrintEvents(std::ostream& out, const std::vector<audit::AuditEvent>& events, const Output& o) {
  if (o.csv) out << audit::CsvHeader() << "\n";
  for (const auto& e : events) {
    if (o.json) {
      out << audit::EventToJson(e).dump() << "\n";
    } else if (o.csv) {
      out << audit::CsvRow(e) << "\n";
    } else {
      out << e.seq << "  "
          << common::FormatRfc3339(common::TimePoint(std::chrono::milliseconds(e.time_ms))) << "  "
          << audit::EventTypeName(e.type) << "  " << audit::OutcomeName(e.outcome) << "  "
          << (e.person.empty() ? "-" : e.person) << "  " << (e.agency.empty() ? "-" : e.agency)
          << "  " << (e.purpose.empty() ? "-" : e.purpose) << "\n";
    }
  }
}

class AuditCommands final : public CommandGroup {
 public:
  void Register(CLI::App& app) override {
    auto* audit = app.add_subcommand(
        "audit", "verify, search and export the audit trail; work the alert queue on overrides");
    audit->require_subcommand(1);

    verify_ = audit->add_subcommand(
        "verify", "verify the audit log of a database or an export, offline; exit 1 on failure");
    AddDbOptions(verify_, &db_, false);
    verify_->add_option("--export", export_in_, "verify this export (JSON lines) instead")
        ->type_name("FILE");
    verify_->add_option("--public-key", public_key_, "the checkpoint public key")
        ->type_name("FILE")
        ->required();
    verify_
        ->add_option("--checkpoint", trusted_,
                     "a checkpoint held elsewhere (an agency's, the anchor file); repeatable")
        ->type_name("FILE");
    verify_->add_flag("--json", verify_json_, "print the report as JSON");

    query_ = audit->add_subcommand("query", "search the audit trail");
    AddDbOptions(query_, &db_);
    query_->add_option("--subject", filter_subject_, "subject pseudonym (ps1:…)");
    query_->add_option("--person", filter_person_, "who acted");
    query_->add_option("--agency", filter_agency_, "agency id");
    query_->add_option("--purpose", filter_purpose_, "purpose, e.g. child_protection_s47");
    query_->add_option("--lawful-basis", filter_basis_, "lawful basis");
    query_->add_option("--type", filter_type_, "event type, e.g. category_withheld");
    query_->add_option("--outcome", filter_outcome_, "ok|refused|failed|rejected|withheld|partial");
    query_->add_option("--from", from_, "from this time (YYYY-MM-DD, RFC 3339 UTC or Unix s)");
    query_->add_option("--to", to_, "before this time");
    query_->add_option("--limit", limit_, "at most this many events")->capture_default_str();
    AddOutputOptions(query_, &query_out_);

    subject_ = audit->add_subcommand(
        "subject", "every event about one subject (for a subject access request)");
    AddDbOptions(subject_, &db_);
    subject_->add_option("--pseudonym", filter_subject_, "the subject's pseudonym (ps1:…)");
    subject_
        ->add_option("--pseudonym-key", pseudonym_key_,
                     "hub pseudonym key, to give --kind and --value instead")
        ->type_name("FILE");
    subject_->add_option("--kind", kind_, "identifier kind: nhs_number, pnc_id, upn, ni_number");
    subject_->add_option("--value", value_, "identifier value");
    AddOutputOptions(subject_, &subject_out_);

    export_ = audit->add_subcommand(
        "export", "stream the whole log as JSON lines, verifiable offline; the export is audited");
    AddDbOptions(export_, &db_);
    export_->add_option("--signing-key", signing_key_, "the checkpoint signing key (0600)")
        ->type_name("FILE")
        ->required();
    export_->add_option("--person", person_, "who is exporting (recorded)")->required();
    export_->add_option("--origin", origin_, "the log's origin")->capture_default_str();
    export_->add_option("--out", out_file_, "write here instead of stdout")->type_name("FILE");

    hash_ = audit->add_subcommand("hash-subject", "print the pseudonym of an identifier");
    hash_->add_option("--pseudonym-key", pseudonym_key_, "hub pseudonym key (0600)")
        ->type_name("FILE")
        ->required();
    hash_->add_option("--kind", kind_, "identifier kind: nhs_number, pnc_id, upn, ni_number")
        ->required();
    hash_->add_option("--value", value_, "identifier value")->required();
  }

  std::optional<int> RunIfChosen(std::ostream& out, std::ostream& err) override {
    if (verify_->parsed()) return Verify(out, err);
    if (query_->parsed()) return Query(out, err);
    if (subject_->parsed()) return Subject(out, err);
    if (export_->parsed()) return Export(out, err);
    if (hash_->parsed()) return Hash(out, err);
    return std::nullopt;
  }

 private:
  static int Fail(std::ostream& err, int code, const std::string& message) {
    err << "mashctl: " << message << "\n";
    return code;
  }

  int Verify(std::ostream& out, std::ostream& err) {
    auto key = crypto::LoadSigningPublicKey(public_key_);
    if (!key.ok()) return Fail(err, kUsage, key.status().message());
    audit::VerifyOptions options;
    for (const auto& file : trusted_) {
      std::ifstream in(file, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto c = audit::ParseAndVerifyCheckpoint(text, *key);
      if (!c.ok()) return Fail(err, kUsage, file + ": " + c.status().message());
      options.trusted.push_back(*c);
    }
    Result<audit::VerifyReport> report = audit::VerifyReport{};
    if (!export_in_.empty()) {
      std::ifstream in(export_in_, std::ios::binary);
      if (!in) return Fail(err, kUsage, "cannot read " + export_in_);
      report = audit::VerifyExport(in, *key, options);
    } else {
      if (db_.db.empty() || db_.db_key.empty()) {
        return Fail(err, kUsage, "give --db and --db-key, or --export");
      }
      auto db = OpenExisting(db_);
      if (!db.ok()) return Fail(err, kUsage, db.status().message());
      report = audit::VerifyLog(**db, *key, options);
    }
    if (!report.ok()) return Fail(err, kFailed, report.status().message());
    const audit::VerifyReport& r = *report;
    if (verify_json_) {
      nlohmann::json j = {{"ok", r.ok},
                          {"entries", r.size},
                          {"checkpoints", r.checkpoints_checked},
                          {"retained_from", r.retained_from}};
      if (r.first_bad_seq) j["first_bad_entry"] = *r.first_bad_seq;
      if (!r.ok) j["problem"] = r.problem;
      if (r.latest) j["latest_checkpoint"] = r.latest->text;
      out << j.dump() << "\n";
    } else if (r.ok) {
      out << "OK: " << r.size << " entries, " << r.checkpoints_checked << " checkpoints verified";
      if (r.retained_from > 0)
        out << " (entries before " << r.retained_from << " removed by retention)";
      out << "\n";
    } else {
      out << "FAILED";
      if (r.first_bad_seq) out << ": first bad entry " << *r.first_bad_seq;
      out << ": " << r.problem << "\n";
    }
    return r.ok ? kOk : kFailed;
  }

  Result<audit::QueryFilter> Filter() {
    audit::QueryFilter f;
    auto opt = [](const std::string& s) {
      return s.empty() ? std::nullopt : std::optional<std::string>(s);
    };
    f.subject = opt(filter_subject_);
    f.person = opt(filter_person_);
    f.agency = opt(filter_agency_);
    f.purpose = opt(filter_purpose_);
    f.lawful_basis = opt(filter_basis_);
    if (!filter_type_.empty()) {
      f.type = audit::ParseEventType(filter_type_);
      if (!f.type) return InvalidArgument("unknown event type '" + filter_type_ + "'");
    }
    if (!filter_outcome_.empty()) {
      f.outcome = audit::ParseOutcome(filter_outcome_);
      if (!f.outcome) return InvalidArgument("unknown outcome '" + filter_outcome_ + "'");
    }
    if (!from_.empty()) {
      f.from_ms = ParseTime(from_);
      if (!f.from_ms) return InvalidArgument("--from: not a date or time");
    }
    if (!to_.empty()) {
      f.to_ms = ParseTime(to_);
      if (!f.to_ms) return InvalidArgument("--to: not a date or time");
    }
    f.limit = limit_;
    return f;
  }

  int Query(std::ostream& out, std::ostream& err) {
    auto f = Filter();
    if (!f.ok()) return Fail(err, kUsage, f.status().message());
    auto db = OpenExisting(db_);
    if (!db.ok()) return Fail(err, kUsage, db.status().message());
    auto events = audit::QueryEvents(**db, *f);
    if (!events.ok()) return Fail(err, kFailed, events.status().message());
    PrintEvents(out, *events, query_out_);
    return kOk;
  }

  Result<std::string> PseudonymFromFlags() {
    MASH_ASSIGN_OR_RETURN(crypto::SecureBuffer key,
                          crypto::ReadKeyFile(pseudonym_key_, crypto::KeyKind::kPseudonymKey));
    MASH_ASSIGN_OR_RETURN(crypto::Pseudonymiser p, crypto::Pseudonymiser::Create(std::move(key)));
    return p.Pseudonym(kind_, value_);
  }

  int Subject(std::ostream& out, std::ostream& err) {
    std::string pseudonym = filter_subject_;
    if (pseudonym.empty()) {
      if (pseudonym_key_.empty() || kind_.empty() || value_.empty()) {
        return Fail(err, kUsage, "give --pseudonym, or --pseudonym-key with --kind and --value");
      }
      auto p = PseudonymFromFlags();
      if (!p.ok()) return Fail(err, kUsage, p.status().message());
      pseudonym = *p;
    }
    auto db = OpenExisting(db_);
    if (!db.ok()) return Fail(err, kUsage, db.status().message());
    audit::QueryFilter f;
    f.subject = pseudonym;
    f.limit = UINT64_MAX;
    auto events = audit::QueryEvents(**db, f);
    if (!events.ok()) return Fail(err, kFailed, events.status().message());
    PrintEvents(out, *events, subject_out_);
    return kOk;
  }

  int Export(std::ostream& out, std::ostream& err) {
    auto key = crypto::LoadSigningKey(signing_key_);
    if (!key.ok()) return Fail(err, kUsage, key.status().message());
    {
      // The export itself is an audited event, committed (and signed) before any line is written.
      auto db = OpenExisting(db_);
      if (!db.ok()) return Fail(err, kUsage, db.status().message());
      audit::AuditLogOptions options;
      options.origin = origin_;
      auto log = audit::AuditLog::Open(std::move(db).value(),
                                       std::make_shared<crypto::SigningKey>(std::move(*key)),
                                       std::make_shared<common::SystemClock>(), options);
      if (!log.ok()) return Fail(err, kFailed, log.status().message());
      audit::AuditEvent e;
      e.type = audit::EventType::kExported;
      e.outcome = audit::Outcome::kOk;
      e.person = person_;
      e.role = "ig_officer";
      e.organisation = "hub";
      e.detail = "full export via mashctl";
      auto seq = (*log)->AppendAndWait(e);
      if (!seq.ok()) return Fail(err, kFailed, "export not recorded: " + seq.status().message());
      auto cp = (*log)->Checkpoint();
      if (!cp.ok()) return Fail(err, kFailed, cp.status().message());
    }
    auto db = OpenExisting(db_);
    if (!db.ok()) return Fail(err, kUsage, db.status().message());
    std::ofstream file;
    std::ostream* sink = &out;
    if (!out_file_.empty()) {
      file.open(out_file_, std::ios::binary | std::ios::trunc);
      if (!file) return Fail(err, kUsage, "cannot write " + out_file_);
      sink = &file;
    }
    auto n = audit::ExportLog(**db, *sink);
    if (!n.ok()) return Fail(err, kFailed, n.status().message());
    sink->flush();
    if (!*sink) return Fail(err, kFailed, "export output failed");
    if (!out_file_.empty()) out << "exported " << *n << " entries to " << out_file_ << "\n";
    return kOk;
  }

  int Hash(std::ostream& out, std::ostream& err) {
    auto p = PseudonymFromFlags();
    if (!p.ok()) return Fail(err, kUsage, p.status().message());
    out << *p << "\n";
    return kOk;
  }

  CLI::App* verify_ = nullptr;
  CLI::App* query_ = nullptr;
  CLI::App* subject_ = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* hash_ = nullptr;
  DbFlags db_;
  std::string export_in_, public_key_, signing_key_, pseudonym_key_, kind_, value_, person_;
  std::string origin_ = "mash-broker";
  std::string out_file_;
  std::vector<std::string> trusted_;
  bool verify_json_ = false;
  std::string filter_subject_, filter_person_, filter_agency_, filter_purpose_, filter_basis_;
  std::string filter_type_, filter_outcome_, from_, to_;
  uint64_t limit_ = 10000;
  Output query_out_, subject_out_;
};

}  // namespace

std::unique_ptr<CommandGroup> MakeAuditCommands() { return std::make_unique<AuditCommands>(); }

}  // namespace mash::cli
