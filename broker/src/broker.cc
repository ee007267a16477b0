#include "mash/broker/broker.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <map>

#include "mash/common/log.h"
#include "mash/common/notify.h"
#include "mash/crypto/cert_info.h"
#include "mash/crypto/tls.h"
#include "mash/policy/loader.h"
#include "mash/storage/database.h"

namespace mash::broker {
namespace {

// A drain looks at the queries in flight this often.
constexpr std::chrono::milliseconds kDrainPoll{50};

// Retention runs on the sweep timer once an hour (checks: once a minute).
constexpr int kSweepsPerPurge = 3600;
constexpr int kSweepsPerCheckPurge = 60;

Result<std::unique_ptr<audit::AuditLog>> OpenAuditLog(const BrokerConfig& config,
                                                      const common::Clock& clock,
                                                      crypto::SigningKey key,
                                                      BrokerMetrics* metrics) {
  storage::DatabaseOptions db_options;
  db_options.file = config.audit.database;
  db_options.key_file = config.audit.database_key;
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open(db_options));
  if (config.audit.max_size_mb > 0) {
    // The page size is 4096 (DESIGN §9); SQLite never lowers the limit below the current size.
    const uint64_t pages = config.audit.max_size_mb * 256;
    MASH_RETURN_IF_ERROR(db->Exec("PRAGMA max_page_count = " + std::to_string(pages)));
  }
  audit::AuditLogOptions options;
  options.origin = config.hub_id;
  options.checkpoint_every_events = config.audit.checkpoint_every_events;
  options.checkpoint_every = config.audit.checkpoint_every;
  options.retention = config.audit.retention;
  options.anchor_file = config.audit.anchor_file;
  options.full_verify_on_open = config.audit.full_verify_on_start;
  options.on_commit = [metrics](size_t events, bool committed) {
    metrics->AuditCommit(events, committed);
  };
  // The log's committer thread reads the clock; the broker's clock outlives the log.
  auto shared_clock = std::shared_ptr<const common::Clock>(&clock, [](const common::Clock*) {});
  return audit::AuditLog::Open(std::move(db),
                               std::make_shared<const crypto::SigningKey>(std::move(key)),
                               std::move(shared_clock), std::move(options));
}

// What the broker started with last time (policy versions, key fingerprints), in its own
// database, so that each change is recorded once in the audit trail: a published policy taking
// effect (policy_published) and a changed key (key_changed). Runs before anything is served, and
// fails the start when the events cannot be recorded; again at each reload (SIGHUP), before the
// reloaded agreement is put in force.
Status RecordChanges(const BrokerConfig& config, const policy::PolicySet& agreement,
                     const std::vector<std::string>& signers, const Courier& courier,
                     const std::string& audit_key_fingerprint, audit::AuditLog& log) {
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open({config.database, config.database_key}));
  MASH_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS broker_state(key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  std::map<std::string, std::string> now;
  now["policy.enforced"] = agreement.enforced().version;
  now["policy.shadow"] = agreement.shadow() ? agreement.shadow()->version : "";
  now["key.hub"] = courier.SignFingerprint() + " " + courier.EncFingerprint();
  now["key.audit"] = audit_key_fingerprint;
  for (const auto& [id, reg] : courier.agencies()) {
    now["key.agency." + id] = reg.sign.Fingerprint() + " " + reg.enc.Fingerprint();
  }
  std::vector<std::pair<std::string, std::string>> changed;
  for (const auto& [key, value] : now) {
    MASH_ASSIGN_OR_RETURN(auto stmt, db->Prepare("SELECT value FROM broker_state WHERE key = ?"));
    stmt.Bind(1, key);
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (row && stmt.ColumnText(0) == value) continue;
    if (!row && value.empty()) continue;
    changed.emplace_back(key, value);
  }
  if (changed.empty()) return Status::Ok();
  std::string signed_by;
  for (const auto& s : signers) signed_by += (signed_by.empty() ? "" : " ") + s;
  for (const auto& [key, value] : changed) {
    audit::AuditEvent e;
    e.person = "mash-broker";
    e.role = "system";
    e.organisation = config.hub_id;
    if (key.starts_with("policy.")) {
      e.type = audit::EventType::kPolicyPublished;
      const bool enforced = key == "policy.enforced";
      e.policy_version = value;
      e.rule = enforced ? agreement.enforced().id : (value.empty() ? "" : agreement.shadow()->id);
      e.detail = enforced ? "enforced; signed by: " + (signed_by.empty() ? "none" : signed_by)
                          : (value.empty() ? "shadow withdrawn" : "shadow");
    } else {
      e.type = audit::EventType::kKeyChanged;
      e.agency = key.starts_with("key.agency.") ? key.substr(11) : "";
      e.detail = key + " " + value;  // public key fingerprints only
    }
    MASH_RETURN_IF_ERROR(log.AppendAndWait(std::move(e)).status());
    MASH_ASSIGN_OR_RETURN(
        auto put, db->Prepare("INSERT OR REPLACE INTO broker_state(key, value) VALUES (?, ?)"));
    put.Bind(1, key).Bind(2, value);
    MASH_RETURN_IF_ERROR(put.Run());
  }
  common::LogInfo("broker.changes_recorded", {{"changes", changed.size()}});
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Broker>> Broker::Create(boost::asio::io_context& io,
                                               const BrokerConfig& config,
                                               const common::Clock& clock,
                                               common::RandomSource& random,
                                               std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<Broker> b(new Broker(io, config, clock));
  b->registry_ = registry ? std::move(registry) : std::make_shared<prometheus::Registry>();
  b->metrics_ = std::make_unique<BrokerMetrics>(*b->registry_);
  b->certificates_ = {{"agent_listener", config.tls.cert_chain_file},
                      {"api_listener", config.tls.cert_chain_file},
                      {"hub_ca", config.tls.ca_file}};
  if (config.enrolment)
    b->certificates_.emplace_back("issuing_ca", config.enrolment->issuing_ca_cert);
  crypto::TlsOptions agent_tls = config.tls;
  agent_tls.role = crypto::TlsRole::kServer;
  agent_tls.require_client_cert = true;
  MASH_ASSIGN_OR_RETURN(auto agent_ctx, crypto::MakeTlsContext(agent_tls));
  crypto::TlsOptions api_tls = agent_tls;
  api_tls.require_client_cert = false;  // staff authenticate with bearer tokens and sessions
  MASH_ASSIGN_OR_RETURN(auto api_ctx, crypto::MakeTlsContext(api_tls));

  policy::PolicySource agreement_source{config.policy.agreement, config.policy.store,
                                        config.policy.trusted_keys};
  MASH_ASSIGN_OR_RETURN(
      policy::LoadedPolicySet agreement,
      policy::LoadPolicySet(agreement_source, policy::PolicyKind::kSharingAgreement, std::nullopt,
                            clock.NowUnix()));
  const policy::Policy& enforced = agreement.set->enforced();
  for (const auto& w : agreement.warnings) {
    common::LogWarn("policy.warning", {{"policy", enforced.id}, {"warning", w.ToString()}});
  }
  if (config.policy.trusted_keys.empty()) {
    common::LogWarn("policy.unsigned_accepted",
                    {{"policy", enforced.id}, {"hint", "set policy.trusted_keys in production"}});
  }
  for (const auto& a : config.agencies) {
    if (enforced.PartyIndex(a.id) < 0) {
      common::LogWarn("policy.agency_not_party", {{"agency", a.id}, {"policy", enforced.id}});
    }
  }
  common::LogInfo(
      "policy.loaded",
      {{"policy", enforced.id},
       {"version", enforced.version},
       {"shadow", agreement.set->shadow() ? agreement.set->shadow()->version : std::string()},
       {"signers", agreement.signers.size()}});

  MASH_ASSIGN_OR_RETURN(
      crypto::SecureBuffer pseudonym_key,
      crypto::ReadKeyFile(config.audit.pseudonym_key, crypto::KeyKind::kPseudonymKey));
  MASH_ASSIGN_OR_RETURN(crypto::Pseudonymiser pseudonyms,
                        crypto::Pseudonymiser::Create(std::move(pseudonym_key)));
  b->pseudonyms_ = std::make_shared<const crypto::Pseudonymiser>(std::move(pseudonyms));

  MASH_ASSIGN_OR_RETURN(crypto::SigningKey audit_key,
                        crypto::LoadSigningKey(config.audit.checkpoint_key));
  const crypto::SigningPublicKey audit_public = audit_key.Public();
  auto audit_log = OpenAuditLog(config, clock, std::move(audit_key), b->metrics_.get());
  if (!audit_log.ok()) {
    common::LogError("audit.startup_check_failed", {{"error", audit_log.status().ToString()}});
    return audit_log.status();
  }
  b->audit_ = std::move(*audit_log);
  common::LogInfo("audit.verified", {{"size", b->audit_->Size()},
                                     {"checked", b->audit_->startup_report().entries_checked}});

  AuditReaderOptions reader_options;
  reader_options.database = {config.audit.database, config.audit.database_key};
  reader_options.origin = config.hub_id;
  MASH_ASSIGN_OR_RETURN(
      b->audit_reader_,
      AuditReader::Create(
          std::move(reader_options), audit_public, b->audit_.get(), b->pseudonyms_,
          [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); }));

  MASH_ASSIGN_OR_RETURN(b->courier_, Courier::Create(config, clock, random));
  // Enrolled agencies join the [[agency]] entries in the courier before anything uses them.
  MASH_ASSIGN_OR_RETURN(b->enrolment_,
                        EnrolmentAuthority::Create(config, b->courier_.get(), b->audit_.get(),
                                                   audit_public, clock, random));
  StaffDirectoryOptions staff_options;
  staff_options.organisation = config.hub_id;
  staff_options.lockout_attempts = config.staff.lockout_attempts;
  staff_options.lockout_duration = config.staff.lockout;
  staff_options.session_lifetime = config.staff.session;
  staff_options.session_idle = config.staff.session_idle;
  staff_options.token_days_max = config.staff.token_days_max;
  staff_options.token_days_default = std::min(90, config.staff.token_days_max);
  MASH_ASSIGN_OR_RETURN(
      b->staff_, StaffDirectory::Create(
                     {config.database, config.database_key}, b->audit_.get(), clock, random,
                     [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); },
                     staff_options));
  b->audit_fingerprint_ = audit_public.Fingerprint();
  MASH_RETURN_IF_ERROR(RecordChanges(config, *agreement.set, agreement.signers, *b->courier_,
                                     b->audit_fingerprint_, *b->audit_));
  CheckServiceOptions check_options;
  check_options.query_lifetime = config.query_lifetime;
  // Half the connection's queue for queries leaves room for pings and errors.
  check_options.max_in_flight = std::clamp(static_cast<int>(config.max_queue / 2), 1, 64);
  check_options.retention = config.check_retention;
  // Deadlines in working time (DESIGN §4): the calendar of [deadlines], checked at load.
  MASH_ASSIGN_OR_RETURN(common::WorkingCalendar calendar, MakeCalendar(config.deadlines));
  auto shared_calendar = std::make_shared<const common::WorkingCalendar>(std::move(calendar));
  check_options.due = [shared_calendar, d = config.deadlines](common::TimePoint from,
                                                              const std::string& urgency) {
    return shared_calendar->Add(from, Allowance(d, urgency));
  };
  check_options.chase = [shared_calendar, d = config.deadlines](common::TimePoint from,
                                                                const std::string& urgency) {
    return shared_calendar->Add(from, ChaseAfter(d, urgency));
  };
  MASH_ASSIGN_OR_RETURN(b->check_store_, CheckStore::Open({config.database, config.database_key}));
  check_options.store = b->check_store_.get();
  auto post = [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); };
  // The IG alert queue, in the same database; out of hours by the same calendar (none when it
  // is round the clock).
  MASH_ASSIGN_OR_RETURN(b->alert_store_, AlertStore::Open({config.database, config.database_key}));
  AlertQueueOptions alert_options;
  alert_options.settings = config.alerts;
  alert_options.store = b->alert_store_.get();
  if (!config.deadlines.hours.always) {
    alert_options.is_working = [shared_calendar](common::TimePoint t) {
      return shared_calendar->IsWorking(t);
    };
  }
  b->alerts_ = std::make_unique<AlertQueue>(clock, random, *b->audit_, post, alert_options);
  MASH_RETURN_IF_ERROR(b->alerts_->Load());
  check_options.alerts = b->alerts_.get();
  check_options.metrics = b->metrics_.get();
  b->checks_ = std::make_unique<CheckService>(*b->courier_, clock, random, *b->audit_,
                                              agreement.set, b->pseudonyms_, post, check_options);
  MASH_ASSIGN_OR_RETURN(b->policy_view_,
                        PolicyView::Create({config.database, config.database_key}, agreement.set,
                                           agreement.signers, config.policy.store, clock));
  b->policy_view_->SetRefusalRecorder(
      [checks = b->checks_.get()](const Staff& staff, std::string_view detail) {
        checks->RecordRefusal(staff, detail);
      });
  b->checks_->SetPolicyObserver(b->policy_view_.get());
  MASH_RETURN_IF_ERROR(b->checks_->Load());

  AgentHubOptions hub_options;
  hub_options.address = config.agent_address;
  hub_options.port = config.agent_port;
  hub_options.max_connections = config.max_connections;
  hub_options.max_pending = config.max_pending;
  hub_options.max_pending_per_address = config.max_pending_per_address;
  hub_options.max_connections_per_agency = config.max_connections_per_agency;
  hub_options.max_queue = config.max_queue;
  hub_options.handshake_timeout = config.handshake_timeout;
  hub_options.idle_timeout = config.idle_timeout;
  hub_options.welcome.version = schemas::kProtocolVersion;
  hub_options.welcome.hub = config.hub_id;
  hub_options.welcome.sign_key = b->courier_->SignFingerprint();
  hub_options.welcome.enc_key = b->courier_->EncFingerprint();
  hub_options.welcome.ping_interval_s = config.ping_interval_s;
  Courier* courier = b->courier_.get();
  auto key_check = [courier](const std::string& agency, const std::string& sign_fp,
                             const std::string& enc_fp) {
    const RegisteredAgency* reg = courier->FindAgency(agency);
    return reg != nullptr && reg->sign.Fingerprint() == sign_fp && reg->enc.Fingerprint() == enc_fp;
  };
  MASH_ASSIGN_OR_RETURN(
      b->hub_, AgentHub::Start(io, std::move(agent_ctx), hub_options, key_check, b->checks_.get()));
  b->checks_->AttachHub(b->hub_);
  b->enrolment_->set_agent_port(b->hub_->port());

  ApiOptions api_options;
  api_options.address = config.api_address;
  api_options.port = config.api_port;
  api_options.tokens = config.api_tokens;
  api_options.metrics = b->metrics_.get();
  api_options.max_connections = config.api_max_connections;
  api_options.max_pending = config.api_max_pending;
  api_options.request_timeout = config.api_request_timeout;
  if (config.console.enabled) {
    ConsoleServices services;
    services.checks = b->checks_.get();
    services.staff = b->staff_.get();
    services.alerts = b->alerts_.get();
    services.clock = &clock;
    services.audit = b->audit_reader_.get();
    services.policy = b->policy_view_.get();
    MASH_ASSIGN_OR_RETURN(b->console_, Console::Create(config.console, services, random));
  }
  auto api = ApiServer::Start(io, std::move(api_ctx), api_options, b->checks_.get(),
                              b->enrolment_.get(), b->staff_.get(), b->console_.get());
  if (!api.ok()) {
    b->hub_->Stop();
    return api.status();
  }
  b->api_ = std::move(*api);
  for (const auto& [id, _] : b->courier_->agencies()) b->metrics_->AgentConnected(id, false);
  if (config.ops_listen) {
    ops::OpsOptions ops_options;
    ops_options.listen = *config.ops_listen;
    ops::OpsHandlers handlers;
    handlers.registry = b->registry_;
    Broker* self = b.get();
    handlers.refresh = [self] { self->RefreshMetrics(); };
    handlers.not_ready = [self] { return self->NotReady(); };
    auto ops = ops::OpsServer::Start(io, ops_options, std::move(handlers));
    if (!ops.ok()) {
      b->api_->Stop();
      b->hub_->Stop();
      return ops.status();
    }
    b->ops_ = std::move(*ops);
  }
  b->ScheduleSweep();
  b->ScheduleWatchdog();
  common::LogInfo("broker.ready", {{"agent_port", b->hub_->port()},
                                   {"api_port", b->api_->port()},
                                   {"ops_port", b->ops_port()},
                                   {"agencies", config.agencies.size()},
                                   {"enrolled_agencies", b->enrolment_->enrolled_count()},
                                   {"enrolment", b->enrolment_->enabled()}});
  return b;
}

Broker::~Broker() = default;

void Broker::ScheduleSweep() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    checks_->Sweep();
    if (++sweeps_ % kSweepsPerCheckPurge == 0) checks_->PurgeExpired();
    if (sweeps_ % kSweepsPerPurge == 0) {
      auto purged = audit_->PurgeExpired();
      if (!purged.ok()) {
        common::LogError("audit.purge_failed", {{"error", purged.status().ToString()}});
      } else if (*purged > 0) {
        common::LogInfo("audit.purged", {{"events", *purged}});
      }
    }
    ScheduleSweep();
  });
}

uint16_t Broker::ops_port() const { return ops_ ? ops_->port() : 0; }

std::vector<std::string> Broker::NotReady() const {
  std::vector<std::string> failing;
  if (audit_->commit_failing()) failing.emplace_back("audit_log_failing");
  // A database of this process found its disk full and has not written since (storage.full).
  if (storage::StorageFull()) failing.emplace_back("storage_full");
  if (draining()) failing.emplace_back("draining");
  if (stopped_) failing.emplace_back("stopped");
  return failing;
}

void Broker::RefreshMetrics() {
  metrics_->SetChecksByState(checks_->CountByState());
  metrics_->SetOpenAlerts(alerts_->CountOpenByKind());
  // Read from the files at each scrape, so that a renewed certificate shows at once; a file that
  // cannot be read keeps its last value (the TLS context holds what was loaded).
  for (const auto& [role, file] : certificates_) {
    if (file.empty()) continue;
    auto info = crypto::DescribeCertificate(file);
    if (info.ok()) metrics_->SetCertificateExpiry(role, info->not_after);
  }
}

void Broker::ScheduleWatchdog() {
  const auto interval = common::WatchdogPingInterval();
  if (!interval) return;
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    // The event loop turned within the interval: the pings stop when it hangs, and systemd
    // restarts the unit.
    common::NotifyServiceManager("WATCHDOG=1");
    ScheduleWatchdog();
  });
}

void Broker::BeginDrain(std::function<void()> drained) {
  if (stopped_ || draining()) return;
  checks_->BeginDrain();
  hub_->StopAccepting();
  drain_deadline_ = std::chrono::steady_clock::now() + config_.drain_timeout;
  on_drained_ = std::move(drained);
  common::LogInfo("broker.draining", {{"in_flight", checks_->InFlightQueries()},
                                      {"bound_s", config_.drain_timeout.count()}});
  WatchDrain();
}

void Broker::WatchDrain() {
  const size_t in_flight = checks_->InFlightQueries();
  const bool timed_out = std::chrono::steady_clock::now() >= drain_deadline_;
  if (in_flight == 0 || timed_out) {
    if (timed_out && in_flight > 0) {
      // Stored as sent: after the restart they stay open until answered or past their deadline.
      common::LogWarn("broker.drain_timed_out", {{"in_flight", in_flight}});
    } else {
      common::LogInfo("broker.drained");
    }
    auto drained = std::move(on_drained_);
    on_drained_ = nullptr;
    if (drained) drained();
    return;
  }
  common::NotifyStatus("draining: " + std::to_string(in_flight) + " queries in flight");
  drain_timer_.expires_after(kDrainPoll);
  drain_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    WatchDrain();
  });
}

void Broker::RecordReloadFailure(std::string_view part, const Status& error) {
  common::LogError("broker.reload_failed", {{"part", part}, {"error", error.ToString()}});
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestFailed;
  e.outcome = audit::Outcome::kFailed;
  e.person = "mash-broker";
  e.role = "system";
  e.organisation = config_.hub_id;
  e.detail = "reload_failed:" + std::string(part);
  if (auto r = audit_->AppendAndWait(std::move(e)); !r.ok()) {
    common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  }
}

std::vector<std::string> Broker::RestartNeeded(const BrokerConfig& fresh) const {
  const BrokerConfig& old = config_;
  std::vector<std::string> out;
  auto check = [&out](bool changed, const char* what) {
    if (changed) out.emplace_back(what);
  };
  check(fresh.hub_id != old.hub_id, "hub.id");
  check(fresh.log.file != old.log.file, "log.file");
  check(fresh.agent_address != old.agent_address || fresh.agent_port != old.agent_port,
        "agents listen address");
  check(fresh.api_address != old.api_address || fresh.api_port != old.api_port,
        "api listen address");
  check(fresh.max_connections != old.max_connections || fresh.max_pending != old.max_pending ||
            fresh.max_pending_per_address != old.max_pending_per_address ||
            fresh.max_connections_per_agency != old.max_connections_per_agency ||
            fresh.max_queue != old.max_queue || fresh.handshake_timeout != old.handshake_timeout ||
            fresh.idle_timeout != old.idle_timeout || fresh.ping_interval_s != old.ping_interval_s,
        "agents limits");
  check(fresh.query_lifetime != old.query_lifetime, "checks.query_lifetime_s");
  check(fresh.sign_key != old.sign_key || fresh.enc_key != old.enc_key, "hub keys");
  check(fresh.database != old.database || fresh.database_key != old.database_key,
        "storage database");
  check(!(fresh.audit == old.audit), "audit");
  check(!(fresh.agencies == old.agencies), "agency");
  check(fresh.check_retention != old.check_retention, "retention");
  check(!(fresh.staff == old.staff), "staff");
  check(fresh.enrolment != old.enrolment, "enrolment");
  check(!(fresh.deadlines == old.deadlines), "deadlines");
  check(!(fresh.alerts == old.alerts), "alerts");
  check(!(fresh.console == old.console), "console");
  return out;
}

Status Broker::Reload(const BrokerConfig& fresh) {
  if (stopped_ || draining()) return FailedPrecondition("the broker is stopping");
  // Everything new is built first; nothing is put in force unless all of it loaded.
  crypto::TlsOptions agent_tls = fresh.tls;
  agent_tls.role = crypto::TlsRole::kServer;
  agent_tls.require_client_cert = true;
  crypto::TlsOptions api_tls = agent_tls;
  api_tls.require_client_cert = false;
  auto agent_ctx = crypto::MakeTlsContext(agent_tls);
  auto api_ctx = agent_ctx.ok() ? crypto::MakeTlsContext(api_tls) : agent_ctx;
  if (!agent_ctx.ok() || !api_ctx.ok()) {
    const Status error = agent_ctx.ok() ? api_ctx.status() : agent_ctx.status();
    RecordReloadFailure("tls", error);
    return error;
  }
  const policy::PolicySource source{fresh.policy.agreement, fresh.policy.store,
                                    fresh.policy.trusted_keys};
  auto agreement = policy::LoadPolicySet(source, policy::PolicyKind::kSharingAgreement,
                                         std::nullopt, clock_.NowUnix());
  if (!agreement.ok()) {
    RecordReloadFailure("policy", agreement.status());
    return agreement.status();
  }
  const policy::Policy& enforced = agreement->set->enforced();
  for (const auto& w : agreement->warnings) {
    common::LogWarn("policy.warning", {{"policy", enforced.id}, {"warning", w.ToString()}});
  }
  if (fresh.policy.trusted_keys.empty()) {
    common::LogWarn("policy.unsigned_accepted",
                    {{"policy", enforced.id}, {"hint", "set policy.trusted_keys in production"}});
  }
  // A new agreement version takes effect only once its policy_published event has committed.
  if (Status recorded = RecordChanges(config_, *agreement->set, agreement->signers, *courier_,
                                      audit_fingerprint_, *audit_);
      !recorded.ok()) {
    RecordReloadFailure("policy", recorded);
    return recorded;
  }

  const std::vector<std::string> restart = RestartNeeded(fresh);
  for (const auto& what : restart) {
    common::LogWarn("broker.reload_restart_needed", {{"setting", what}});
  }
  common::SetLogLevel(fresh.log.level);
  hub_->SetTlsContext(std::move(*agent_ctx));
  api_->SetTlsContext(std::move(*api_ctx));
  api_->SetTokens(fresh.api_tokens);
  checks_->SetAgreement(agreement->set);
  policy_view_->SetAgreement(agreement->set, agreement->signers);
  // What is in force now: the listen addresses, paths and keys stay as started.
  config_.log.level = fresh.log.level;
  config_.tls = fresh.tls;
  config_.api_tokens = fresh.api_tokens;
  config_.policy = fresh.policy;
  config_.drain_timeout = fresh.drain_timeout;
  common::LogInfo(
      "broker.reloaded",
      {{"policy", enforced.id},
       {"version", enforced.version},
       {"shadow", agreement->set->shadow() ? agreement->set->shadow()->version : std::string()},
       {"signers", agreement->signers.size()},
       {"restart_needed", restart}});
  return Status::Ok();
}

void Broker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  sweep_timer_.cancel();
  if (ops_) ops_->Stop();
  drain_timer_.cancel();
  watchdog_timer_.cancel();
  api_->Stop();
  hub_->Stop();
  // Sign what was recorded since the last checkpoint, so that the log a restart (or an IG
  // officer, offline) verifies ends in a signed checkpoint and the anchor file is current.
  audit_->Flush();
  if (auto c = audit_->Checkpoint(); !c.ok()) {
    common::LogError("audit.checkpoint_failed", {{"error", c.status().ToString()}});
  }
  common::LogInfo("broker.stopped");
}

}  // namespace mash::broker
