#include "mash/broker/audit_reader.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>

#include "mash/audit/merkle.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"

namespace mash::broker {
namespace {

using common::Bytes;

constexpr size_t kMaxIdentifierChars = 200;

std::string At(int64_t time_ms) {
  return common::FormatRfc3339(common::TimePoint(std::chrono::milliseconds(time_ms)));
}

// The NodeReader of the audit tables, for proofs on the reader's connection.
class Nodes final : public audit::NodeReader {
 public:
  explicit Nodes(storage::Database& db) : db_(db) {}
  Result<audit::Hash> Node(int level, uint64_t index) const override {
    auto& stmt = level == 0 ? leaf_ : node_;
    if (!stmt) {
      auto s = level == 0 ? db_.Prepare(
                                "SELECT leaf_hash FROM audit_events WHERE seq = ?1 UNION ALL "
                                "SELECT leaf_hash FROM audit_purged WHERE seq = ?1")
                          : db_.Prepare("SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?");
      if (!s.ok()) return s.status();
      stmt.emplace(std::move(*s));
    }
    stmt->Reset();
    if (level == 0) {
      stmt->Bind(1, static_cast<int64_t>(index));
    } else {
      stmt->Bind(1, static_cast<int64_t>(level)).Bind(2, static_cast<int64_t>(index));
    }
    MASH_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return NotFound("audit tree node missing");
    auto h = audit::HashFromBytes(stmt->ColumnBlob(0));
    if (!h) return DataLoss("audit tree node malformed");
    return *h;
  }

 private:
  storage::Database& db_;
  mutable std::optional<storage::Statement> leaf_, node_;
};

Result<std::unique_ptr<storage::Database>> OpenReadOnly(const storage::DatabaseOptions& options) {
  storage::DatabaseOptions o = options;
  o.create_if_missing = false;
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open(o));
  // This connection never writes: SQLite refuses any change made through it.
  MASH_RETURN_IF_ERROR(db->Exec("PRAGMA query_only = 1"));
  return db;
}

// The events about one subject, grouped by check, as the subject report shows them.
nlohmann::json BuildReport(const std::string& pseudonym, std::vector<audit::AuditEvent> events,
                           bool truncated) {
  struct AgencyPart {
    nlohmann::json j = nlohmann::json::object();
  };
  struct CheckReport {
    int64_t first_ms = 0;
    nlohmann::json raised;
    nlohmann::json authorisation = nlohmann::json::array();
    std::map<std::string, nlohmann::json> agencies;
    nlohmann::json viewed = nlohmann::json::array();
    nlohmann::json decisions = nlohmann::json::array();
    nlohmann::json other = nlohmann::json::array();
  };
  std::map<std::string, CheckReport> checks;
  nlohmann::json other = nlohmann::json::array();
  auto who = [](const audit::AuditEvent& e) {
    return nlohmann::json{{"seq", e.seq},
                          {"at", At(e.time_ms)},
                          {"person", e.person},
                          {"role", e.role},
                          {"organisation", e.organisation}};
  };
  auto brief = [&](const audit::AuditEvent& e) {
    nlohmann::json j = who(e);
    j["type"] = std::string(audit::EventTypeName(e.type));
    j["outcome"] = std::string(audit::OutcomeName(e.outcome));
    if (!e.agency.empty()) j["agency"] = e.agency;
    if (!e.detail.empty()) j["detail"] = e.detail;
    return j;
  };
  auto part = [](CheckReport& c, const std::string& agency) -> nlohmann::json& {
    nlohmann::json& p = c.agencies[agency];
    if (p.is_null()) {
      p = {{"agency", agency},
           {"queried", nlohmann::json::array()},
           {"answers", nlohmann::json::array()},
           {"categories", nlohmann::json::array()},
           {"events", nlohmann::json::array()}};
    }
    return p;
  };
  for (const audit::AuditEvent& e : events) {
    if (e.check_ref.empty()) {
      other.push_back(brief(e));
      continue;
    }
    CheckReport& c = checks[e.check_ref];
    if (c.first_ms == 0 || e.time_ms < c.first_ms) c.first_ms = e.time_ms;
    switch (e.type) {
      case audit::EventType::kCheckRaised: {
        nlohmann::json j = who(e);
        j.update({{"purpose", e.purpose},
                  {"lawful_basis", e.lawful_basis},
                  {"consent", e.consent},
                  {"override_ground", e.override_ground},
                  {"justification_ref", e.justification_ref},
                  {"level", e.level},
                  {"rule", e.rule},
                  {"policy_version", e.policy_version},
                  {"outcome", std::string(audit::OutcomeName(e.outcome))}});
        c.raised = std::move(j);
        break;
      }
      case audit::EventType::kCheckAuthorised:
      case audit::EventType::kCheckRejected: {
        nlohmann::json j = who(e);
        j["decision"] = e.type == audit::EventType::kCheckAuthorised ? "authorised" : "rejected";
        c.authorisation.push_back(std::move(j));
        break;
      }
      case audit::EventType::kQuerySent: {
        nlohmann::json j = who(e);
        j.update({{"level", e.level}, {"rule", e.rule}, {"policy_version", e.policy_version}});
        part(c, e.agency)["queried"].push_back(std::move(j));
        break;
      }
      case audit::EventType::kAnswerReceived: {
        nlohmann::json j = who(e);
        j.update({{"outcome", std::string(audit::OutcomeName(e.outcome))},
                  {"detail", e.detail},
                  {"level", e.level},
                  {"policy_version", e.policy_version}});
        part(c, e.agency)["answers"].push_back(std::move(j));
        break;
      }
      case audit::EventType::kCategoryDisclosed:
      case audit::EventType::kCategoryWithheld:
        for (const auto& cat : e.categories) {
          part(c, e.agency)["categories"].push_back({{"seq", e.seq},
                                                     {"at", At(e.time_ms)},
                                                     {"category", cat.category},
                                                     {"disposition", cat.disposition},
                                                     {"reason", cat.reason},
                                                     {"level", e.level},
                                                     {"rule", e.rule},
                                                     {"policy_version", e.policy_version}});
        }
        break;
      case audit::EventType::kResultViewed:
        c.viewed.push_back(who(e));
        break;
      case audit::EventType::kMashDecisionRecorded: {
        nlohmann::json j = who(e);
        j["detail"] = e.detail;
        c.decisions.push_back(std::move(j));
        break;
      }
      default:
        if (!e.agency.empty()) {
          part(c, e.agency)["events"].push_back(brief(e));
        } else {
          c.other.push_back(brief(e));
        }
    }
  }
  std::vector<std::pair<std::string, CheckReport*>> order;
  for (auto& [ref, c] : checks) order.emplace_back(ref, &c);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.second->first_ms < b.second->first_ms; });
  nlohmann::json out_checks = nlohmann::json::array();
  for (auto& [ref, c] : order) {
    nlohmann::json agencies = nlohmann::json::array();
    for (auto& [_, p] : c->agencies) agencies.push_back(std::move(p));
    out_checks.push_back({{"check", ref},
                          {"raised", c->raised},
                          {"authorisation", std::move(c->authorisation)},
                          {"agencies", std::move(agencies)},
                          {"viewed", std::move(c->viewed)},
                          {"decisions", std::move(c->decisions)},
                          {"other", std::move(c->other)}});
  }
  return {{"subject", pseudonym},
          {"events", events.size()},
          {"truncated", truncated},
          {"checks", std::move(out_checks)},
          {"other", std::move(other)}};
}

struct ExportState {
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<audit::ExportCursor> cursor;
  std::shared_ptr<std::atomic<size_t>> open;
  ~ExportState() {
    cursor.reset();  // ends the read transaction before the connection closes
    db.reset();
    if (open) --*open;
  }
};

class ExportStreamImpl final : public ExportStream,
                               public std::enable_shared_from_this<ExportStreamImpl> {
 public:
  ExportStreamImpl(boost::asio::thread_pool* worker, std::shared_ptr<bool> alive,
                   AuditReader::Post post, std::shared_ptr<ExportState> state, size_t chunk,
                   uint64_t seq)
      : worker_(worker),
        alive_(std::move(alive)),
        post_(std::move(post)),
        state_(std::move(state)),
        chunk_(chunk),
        seq_(seq) {}

  void Next(Chunk done) override {
    if (!*alive_) return done(Unavailable("the audit reader has stopped"));
    if (busy_) return done(FailedPrecondition("one piece of the export at a time"));
    if (!state_) return done(std::optional<std::string>());
    busy_ = true;
    boost::asio::post(*worker_, [self = shared_from_this(), state = state_, alive = alive_,
                                 post = post_, done = std::move(done), chunk = chunk_]() mutable {
      std::string out;
      Result<bool> more = state->cursor->Next(out, chunk);
      post([self, alive, done = std::move(done), out = std::move(out),
            more = std::move(more)]() mutable {
        if (!*alive) return done(Unavailable("the audit reader has stopped"));
        self->busy_ = false;
        if (!more.ok()) {
          common::LogError("audit.export_failed", {{"error", more.status().ToString()}});
          self->state_.reset();
          return done(Unavailable("the export failed"));
        }
        if (!*more) {
          self->state_.reset();  // the read transaction ends
          return done(std::optional<std::string>());
        }
        done(std::optional<std::string>(std::move(out)));
      });
    });
  }
  uint64_t recorded_seq() const override { return seq_; }

 private:
  boost::asio::thread_pool* worker_;
  std::shared_ptr<bool> alive_;
  AuditReader::Post post_;
  std::shared_ptr<ExportState> state_;  // reset at the end
  size_t chunk_;
  uint64_t seq_;
  bool busy_ = false;
};

std::string FilterNames(const audit::QueryFilter& f) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    out += out.empty() ? "" : ",";
    out += name;
  };
  add(f.subject.has_value(), "subject");
  add(f.person.has_value(), "person");
  add(f.agency.has_value(), "agency");
  add(f.purpose.has_value(), "purpose");
  add(f.lawful_basis.has_value(), "lawful_basis");
  add(f.type.has_value(), "type");
  add(f.outcome.has_value(), "outcome");
  add(f.from_ms.has_value(), "from");
  add(f.to_ms.has_value(), "to");
  return out.empty() ? "none" : out;
}

}  // namespace

const std::vector<std::string>& SubjectIdentifierKinds() {
  static const std::vector<std::string> kinds = {"nhs_number", "pnc_id", "upn", "ni_number",
                                                 "name_dob"};
  return kinds;
}

AuditReader::AuditReader(AuditReaderOptions options, crypto::SigningPublicKey key,
                         audit::AuditSink* sink,
                         std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post)
    : options_(std::move(options)),
      key_(std::move(key)),
      sink_(sink),
      pseudonyms_(std::move(pseudonyms)),
      post_(std::move(post)),
      worker_(std::make_unique<boost::asio::thread_pool>(1)),
      alive_(std::make_shared<bool>(true)),
      open_exports_(std::make_shared<std::atomic<size_t>>(0)) {}

AuditReader::~AuditReader() {
  *alive_ = false;
  // Reads still queued are abandoned; one running finishes and posts a result that finds the
  // reader gone. The connection is closed after the worker stopped using it.
  worker_->stop();
  worker_->join();
}

Result<std::unique_ptr<AuditReader>> AuditReader::Create(
    AuditReaderOptions options, crypto::SigningPublicKey checkpoint_key, audit::AuditSink* sink,
    std::shared_ptr<const crypto::Pseudonymiser> pseudonyms, Post post) {
  if (sink == nullptr || pseudonyms == nullptr || options.page_size < 1 ||
      options.page_size > 10000 || options.max_waiting < 1 || options.max_exports < 1 ||
      options.export_chunk_bytes < 1024 || options.max_report_events < 1) {
    return InvalidArgument("audit reader options out of range");
  }
  MASH_ASSIGN_OR_RETURN(auto db, OpenReadOnly(options.database));
  std::unique_ptr<AuditReader> r(new AuditReader(std::move(options), std::move(checkpoint_key),
                                                 sink, std::move(pseudonyms), std::move(post)));
  r->db_ = std::move(db);
  return r;
}

Result<std::string> AuditReader::SubjectPseudonym(const std::string& kind,
                                                  const std::string& value) const {
  const auto& kinds = SubjectIdentifierKinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return InvalidArgument("/kind: choose the kind of identifier");
  }
  if (crypto::NormaliseIdentifier(kind, value).empty() || value.size() > kMaxIdentifierChars) {
    return InvalidArgument("/value: enter the identifier, at most 200 characters");
  }
  return pseudonyms_->Pseudonym(kind, value);
}

audit::AuditEvent AuditReader::ReadEvent(const Staff& staff, audit::EventType type,
                                         const std::string& detail) const {
  audit::AuditEvent e;
  e.type = type;
  e.person = staff.user;
  e.role = staff.role;
  e.organisation = staff.organisation;
  e.detail = detail;
  return e;
}

Status AuditReader::Admit(const Staff& staff, const std::string& what) {
  if (staff.role != "ig_officer" && staff.role != "dpo") {
    audit::AuditEvent e = ReadEvent(staff, audit::EventType::kRequestRefused, "audit: role");
    e.outcome = audit::Outcome::kRefused;
    // The refusal is recorded whether or not the caller waits for it; a failure to record it
    // is logged (the answer is a refusal either way).
    sink_->Append(std::move(e), [](Result<uint64_t> r) {
      if (!r.ok())
        common::LogError("audit.refusal_not_recorded", {{"error", r.status().ToString()}});
    });
    common::LogWarn("audit_reader.refused", {{"role", staff.role}, {"what", what}});
    return PermissionDenied("the audit trail is for IG officers and DPOs");
  }
  if (in_flight_ >= options_.max_waiting) {
    common::LogWarn("audit_reader.saturated", {{"in_flight", in_flight_}, {"what", what}});
    return ResourceExhausted("too many audit trail requests at once; try again");
  }
  ++in_flight_;
  return Status::Ok();
}

template <typename T>
void AuditReader::Run(std::function<Result<T>(storage::Database&)> work,
                      std::function<audit::AuditEvent(const T&)> event_of, Done<T> done) {
  // Called on the io thread with the result: records the read, then answers.
  auto finish = [this, alive = alive_, event_of = std::move(event_of),
                 done = std::move(done)](Result<T> result) mutable {
    if (!*alive) return;
    if (!result.ok()) {
      --in_flight_;
      return done(std::move(result));
    }
    audit::AuditEvent e = event_of(*result);
    auto shared = std::make_shared<Result<T>>(std::move(result));
    // The append callback runs on the log's committer thread: come back to the io thread.
    sink_->Append(std::move(e), [this, alive, post = post_, shared,
                                 done = std::move(done)](Result<uint64_t> seq) mutable {
      post([this, alive, shared, seq = std::move(seq), done = std::move(done)]() mutable {
        if (!*alive) return;
        --in_flight_;
        if (!seq.ok()) {
          common::LogError("audit_reader.not_recorded", {{"error", seq.status().ToString()}});
          return done(Unavailable("cannot record the read now"));
        }
        done(std::move(*shared));
      });
    });
  };
  boost::asio::post(*worker_, [db = db_.get(), alive = alive_, post = post_, work = std::move(work),
                               finish = std::move(finish)]() mutable {
    auto result = std::make_shared<Result<T>>(work(*db));
    post([result, finish = std::move(finish)]() mutable { finish(std::move(*result)); });
  });
}

void AuditReader::Search(const Staff& staff, audit::QueryFilter filter,
                         Done<AuditSearchPage> done) {
  if (Status s = Admit(staff, "search"); !s.ok()) return done(s);
  filter.newest_first = true;
  filter.after_seq.reset();
  filter.limit = options_.page_size + 1;
  const size_t page = options_.page_size;
  const std::string names = FilterNames(filter);
  const std::optional<std::string> subject = filter.subject;
  Run<AuditSearchPage>(
      [filter, page](storage::Database& db) -> Result<AuditSearchPage> {
        MASH_ASSIGN_OR_RETURN(auto events, audit::QueryEvents(db, filter));
        AuditSearchPage out;
        out.more = events.size() > page;
        if (out.more) events.resize(page);
        out.events = std::move(events);
        return out;
      },
      [this, staff, names, subject](const AuditSearchPage& p) {
        audit::AuditEvent e =
            ReadEvent(staff, audit::EventType::kResultViewed,
                      "audit: search by " + names + "; " + std::to_string(p.events.size()) +
                          (p.more ? "+" : "") + " events");
        if (subject) e.subjects.push_back(*subject);
        return e;
      },
      std::move(done));
}

void AuditReader::Event(const Staff& staff, uint64_t seq, Done<AuditEventDetail> done) {
  if (Status s = Admit(staff, "event"); !s.ok()) return done(s);
  Run<AuditEventDetail>(
      [seq, key = key_](storage::Database& db) -> Result<AuditEventDetail> {
        if (seq > static_cast<uint64_t>(INT64_MAX)) return NotFound("no such event");
        MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
        auto read = [&]() -> Result<AuditEventDetail> {
          MASH_ASSIGN_OR_RETURN(
              auto s,
              db.Prepare("SELECT encoded, leaf_hash, chain FROM audit_events WHERE seq = ?"));
          s.Bind(1, static_cast<int64_t>(seq));
          MASH_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return NotFound("no such event");
          const Bytes encoded = s.ColumnBlob(0);
          auto e = audit::DecodeEvent(encoded);
          if (!e.ok() || e->seq != seq) {
            return DataLoss("audit event does not decode; run mashctl audit verify");
          }
          AuditEventDetail d;
          d.event = std::move(*e);
          d.leaf_hash = s.ColumnBlob(1);
          d.chain = s.ColumnBlob(2);
          // The newest checkpoint that covers the event, and its audit path in that tree.
          MASH_ASSIGN_OR_RETURN(
              auto c, db.Prepare("SELECT text FROM audit_checkpoints WHERE size > ? ORDER BY id "
                                 "DESC LIMIT 1"));
          c.Bind(1, static_cast<int64_t>(seq));
          MASH_ASSIGN_OR_RETURN(bool has_checkpoint, c.Step());
          if (!has_checkpoint) return d;
          auto cp = audit::ParseAndVerifyCheckpoint(c.ColumnText(0), key);
          if (!cp.ok()) return d;  // shown as not verified; Verify names the problem
          const auto leaf = audit::HashFromBytes(d.leaf_hash);
          Nodes nodes(db);
          auto proof = audit::InclusionProof(nodes, seq, cp->checkpoint.size);
          d.checkpoint = std::move(*cp);
          if (!leaf || !proof.ok()) return d;
          d.inclusion_proof = std::move(*proof);
          d.inclusion_verified =
              audit::HashLeaf(encoded) == *leaf &&
              audit::VerifyInclusion(seq, d.checkpoint->checkpoint.size, *leaf, d.inclusion_proof,
                                     d.checkpoint->checkpoint.root)
                  .ok();
          return d;
        };
        Result<AuditEventDetail> r = read();
        (void)db.Exec("COMMIT");
        return r;
      },
      [this, staff, seq](const AuditEventDetail& d) {
        audit::AuditEvent e = ReadEvent(staff, audit::EventType::kResultViewed,
                                        "audit: event " + std::to_string(seq));
        e.subjects = d.event.subjects;
        return e;
      },
      std::move(done));
}

void AuditReader::Verify(const Staff& staff, std::optional<uint64_t> first,
                         std::optional<uint64_t> last, Done<AuditVerifyResult> done) {
  if (Status s = Admit(staff, "verify"); !s.ok()) return done(s);
  audit::VerifyOptions vo;
  vo.origin = options_.origin;
  Run<AuditVerifyResult>(
      [first, last, vo, key = key_](storage::Database& db) -> Result<AuditVerifyResult> {
        AuditVerifyResult out;
        if (!first && !last) {
          out.whole_log = true;
          MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
          Result<audit::VerifyReport> r = audit::VerifyLog(db, key, vo);
          (void)db.Exec("COMMIT");
          if (!r.ok()) return r.status();
          out.report = std::move(*r);
          out.last = out.report.size > 0 ? out.report.size - 1 : 0;
          return out;
        }
        out.first = first.value_or(0);
        out.last = last.value_or(UINT64_MAX);
        MASH_ASSIGN_OR_RETURN(out.report, audit::VerifyRange(db, key, vo, out.first, out.last));
        if (out.report.size > 0) out.last = std::min(out.last, out.report.size - 1);
        return out;
      },
      [this, staff](const AuditVerifyResult& r) {
        return ReadEvent(
            staff, audit::EventType::kResultViewed,
            "audit: verify " +
                (r.whole_log ? std::string("whole log")
                             : std::to_string(r.first) + "-" + std::to_string(r.last)) +
                (r.report.ok ? " ok" : " failed"));
      },
      std::move(done));
}

void AuditReader::Count(const Staff& staff, const audit::QueryFilter& filter,
                        Done<AuditCount> done) {
  if (Status s = Admit(staff, "count"); !s.ok()) return done(s);
  const std::string names = FilterNames(filter);
  Run<AuditCount>(
      [filter](storage::Database& db) -> Result<AuditCount> {
        MASH_RETURN_IF_ERROR(db.Exec("BEGIN"));
        auto read = [&]() -> Result<AuditCount> {
          AuditCount c;
          MASH_ASSIGN_OR_RETURN(c.matching, audit::CountEvents(db, filter));
          MASH_ASSIGN_OR_RETURN(
              auto s, db.Prepare("SELECT (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) "
                                 "FROM audit_purged), (SELECT COUNT(*) FROM audit_checkpoints)"));
          MASH_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return Internal("COUNT returned no row");
          c.log_entries = static_cast<uint64_t>(s.ColumnInt(0));
          c.checkpoints = static_cast<uint64_t>(s.ColumnInt(1));
          return c;
        };
        Result<AuditCount> r = read();
        (void)db.Exec("COMMIT");
        return r;
      },
      [this, staff, names, subject = filter.subject](const AuditCount& c) {
        audit::AuditEvent e =
            ReadEvent(staff, audit::EventType::kResultViewed,
                      "audit: count by " + names + "; " + std::to_string(c.matching) + " events");
        if (subject) e.subjects.push_back(*subject);
        return e;
      },
      std::move(done));
}

void AuditReader::Export(const Staff& staff, Done<std::shared_ptr<ExportStream>> done) {
  if (Status s = Admit(staff, "export"); !s.ok()) return done(s);
  if (open_exports_->load() >= options_.max_exports) {
    --in_flight_;
    common::LogWarn("audit_reader.exports_saturated", {{"open", open_exports_->load()}});
    return done(ResourceExhausted("too many exports at once; try again"));
  }
  // A slot for the stream, released by its state's destructor (or below when no state is
  // made). Callbacks keep no reference to the state: the log may keep a finished callback
  // until its next batch.
  ++*open_exports_;
  audit::AuditEvent e =
      ReadEvent(staff, audit::EventType::kExported, "full export via the console");
  // The export is recorded first; the snapshot it streams is taken after the commit, so it
  // holds its own record.
  sink_->Append(std::move(e), [this, alive = alive_, post = post_, open = open_exports_,
                               done = std::move(done)](Result<uint64_t> seq) mutable {
    post([this, alive, open, seq = std::move(seq), done = std::move(done)]() mutable {
      if (!*alive) return;
      if (!seq.ok()) {
        --in_flight_;
        --*open;
        common::LogError("audit_reader.not_recorded", {{"error", seq.status().ToString()}});
        return done(Unavailable("cannot record the export now"));
      }
      const uint64_t recorded = *seq;
      boost::asio::post(
          *worker_, [this, alive, post = post_, open, recorded, done = std::move(done)]() mutable {
            auto state = std::make_shared<ExportState>();
            state->open = open;
            Status opened = [&]() -> Status {
              MASH_ASSIGN_OR_RETURN(state->db, OpenReadOnly(options_.database));
              MASH_ASSIGN_OR_RETURN(state->cursor, audit::ExportCursor::Start(*state->db));
              return Status::Ok();
            }();
            if (!opened.ok()) state.reset();  // closes the connection and frees the slot here
            post([this, alive, state = std::move(state), recorded, opened,
                  done = std::move(done)]() mutable {
              if (!*alive) return;
              --in_flight_;
              if (!opened.ok()) {
                common::LogError("audit.export_failed", {{"error", opened.ToString()}});
                return done(Unavailable("the export failed"));
              }
              done(std::shared_ptr<ExportStream>(
                  std::make_shared<ExportStreamImpl>(worker_.get(), alive, post_, std::move(state),
                                                     options_.export_chunk_bytes, recorded)));
            });
          });
    });
  });
}

void AuditReader::SubjectReport(const Staff& staff, const std::string& pseudonym,
                                Done<nlohmann::json> done) {
  if (Status s = Admit(staff, "subject_report"); !s.ok()) return done(s);
  if (!pseudonym.starts_with("ps1:") || pseudonym.size() > 100) {
    --in_flight_;
    return done(InvalidArgument("/subject: not a subject pseudonym"));
  }
  const size_t max = options_.max_report_events;
  Run<nlohmann::json>(
      [pseudonym, max](storage::Database& db) -> Result<nlohmann::json> {
        audit::QueryFilter f;
        f.subject = pseudonym;
        f.limit = max + 1;
        MASH_ASSIGN_OR_RETURN(auto events, audit::QueryEvents(db, f));
        const bool truncated = events.size() > max;
        if (truncated) events.resize(max);
        return BuildReport(pseudonym, std::move(events), truncated);
      },
      [this, staff, pseudonym](const nlohmann::json& report) {
        audit::AuditEvent e = ReadEvent(
            staff, audit::EventType::kResultViewed,
            "audit: subject report; " + std::to_string(report["events"].get<size_t>()) + " events");
        e.subjects.push_back(pseudonym);
        return e;
      },
      std::move(done));
}

}  // namespace mash::broker
