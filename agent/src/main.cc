// mash-agent: reads its configuration, builds the responder (keys, replay store, records,
// disclosure policy, witness) and the channel to the hub, and runs the event loop. Signals, on
// the event loop: SIGHUP reads the configuration file again and reloads the log level, the
// disclosure policy and the TLS certificate (ReloadAgent); SIGTERM or SIGINT drains the channel
// (answers being computed are sent) and stops; a second one stops at once. The service manager
// hears READY=1, RELOADING=1 then READY=1, and STOPPING=1 (common/notify.h). `audit-reset` clears a
// witness alarm; the operations commands (status, test-connection, diagnostics, log, check-config)
// are ops_main.cc; `review` is the custodian's queue, review_commands.cc; `import` fills the
// built-in record store (docs/agent.md).
#include <prometheus/registry.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <iostream>

#include "mash/agent/agent_ops.h"
#include "mash/agent/channel.h"
#include "mash/agent/config.h"
#include "mash/agent/dial.h"
#include "mash/agent/disclosure.h"
#include "mash/agent/disclosure_log.h"
#include "mash/agent/enrol.h"
#include "mash/agent/record_import.h"
#include "mash/agent/record_source.h"
#include "mash/agent/responder.h"
#include "mash/agent/status.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"
#include "mash/common/notify.h"
#include "mash/crypto/tls.h"
#include "ops_main.h"
#include "review_commands.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // import: nothing imported
constexpr int kExitConfig = 2;
constexpr int kExitUnavailable = 3;
constexpr int kExitBadRows = 3;  // import: some rows were bad, the others imported

struct ImportArgs {
  std::string people;
  std::string records;
  bool replace = false;
};

// `mash-agent import`: the report goes to stderr (one line per bad row: file, line, reason, never
// the row), the totals to stdout.
int Import(const mash::agent::AgentConfig& config, const ImportArgs& args) {
  if (config.records_store.empty()) {
    std::cerr << "import: [records] store is not set in the configuration\n";
    return kExitConfig;
  }
  if (args.people.empty() && args.records.empty()) {
    std::cerr << "import: give --people, --records or both\n";
    return kExitConfig;
  }
  auto db = mash::storage::Database::Open({config.records_store, config.records_store_key});
  if (!db.ok()) {
    std::cerr << "import: record store: " << db.status().ToString() << "\n";
    return kExitFailed;
  }
  mash::agent::ImportOptions options;
  if (!args.people.empty()) options.people = args.people;
  if (!args.records.empty()) options.records = args.records;
  options.replace = args.replace;
  auto report = mash::agent::ImportRecords(**db, config.records_import, options);
  if (!report.ok()) {
    std::cerr << "import: nothing imported: " << report.status().message() << "\n";
    return kExitFailed;
  }
  for (const auto& p : report->bad_rows) {
    std::cerr << p.file << ":" << p.line << ": " << p.reason << "\n";
  }
  if (report->bad_row_count > report->bad_rows.size()) {
    std::cerr << "... and " << report->bad_row_count - report->bad_rows.size()
              << " more bad rows\n";
  }
  std::cout << "imported " << report->people << " people and " << report->records
            << " category records; " << report->bad_row_count << " bad rows skipped; "
            << report->warnings
            << " warnings (invalid identifiers, postcodes or sex values left out)\n";
  mash::common::LogInfo("records.imported", {{"people", report->people},
                                             {"records", report->records},
                                             {"bad_rows", report->bad_row_count},
                                             {"warnings", report->warnings},
                                             {"replace", args.replace}});
  return report->bad_row_count == 0 ? kExitOk : kExitBadRows;
}

// The settings of `fresh` that differ from `running` and need a restart.
std::vector<std::string> RestartNeeded(const mash::agent::AgentConfig& running,
                                       const mash::agent::AgentConfig& fresh) {
  std::vector<std::string> out;
  auto check = [&out](bool changed, const char* what) {
    if (changed) out.emplace_back(what);
  };
  check(fresh.agency_id != running.agency_id || fresh.agency_type != running.agency_type, "agency");
  check(fresh.log.file != running.log.file, "log.file");
  check(fresh.broker.host != running.broker.host || fresh.broker.port != running.broker.port ||
            fresh.broker.path != running.broker.path || fresh.hub_id != running.hub_id,
        "broker");
  check(fresh.proxy.has_value() != running.proxy.has_value() ||
            fresh.proxy_credentials != running.proxy_credentials,
        "broker.proxy");
  check(fresh.broker_sign_public_key != running.broker_sign_public_key ||
            fresh.broker_enc_public_key != running.broker_enc_public_key ||
            fresh.audit_log_public_key != running.audit_log_public_key,
        "hub keys");
  check(fresh.sign_key != running.sign_key || fresh.enc_key != running.enc_key, "agency keys");
  check(fresh.database != running.database || fresh.database_key != running.database_key,
        "storage database");
  check(fresh.records_fixture != running.records_fixture ||
            fresh.records_store != running.records_store ||
            fresh.records_store_key != running.records_store_key ||
            fresh.records_command != running.records_command ||
            fresh.records_command_timeout != running.records_command_timeout,
        "records");
  check(fresh.handshake_timeout != running.handshake_timeout ||
            fresh.ping_interval != running.ping_interval ||
            fresh.backoff_initial != running.backoff_initial ||
            fresh.backoff_max != running.backoff_max ||
            fresh.answer_lifetime != running.answer_lifetime,
        "connection");
  check(fresh.enrolment_url != running.enrolment_url || fresh.renew_window != running.renew_window,
        "enrolment");
  return out;
}

// SIGHUP: everything new is loaded first (the configuration file, the TLS context, the
// disclosure policy with its signatures checked as at start); only when all of it loaded is
// it put in force. Otherwise the running configuration stays and the error is logged.
void ReloadAgent(const std::string& config_path, mash::agent::AgentConfig& running,
                 mash::agent::Channel& channel, mash::agent::Responder& responder,
                 mash::agent::AgentStatusStore* status, const mash::common::Clock& clock) {
  mash::common::NotifyReloading("reloading configuration");
  auto fail = [](std::string_view part, const mash::Status& error) {
    mash::common::LogError("agent.reload_failed", {{"part", part}, {"error", error.ToString()}});
    mash::common::NotifyReady("running; last reload failed");
  };
  auto fresh = mash::agent::LoadAgentConfig(config_path);
  if (!fresh.ok()) return fail("config", fresh.status());
  auto ctx = mash::crypto::MakeTlsContext(fresh->tls);
  if (!ctx.ok()) return fail("tls", ctx.status());
  auto policies =
      mash::agent::LoadDisclosurePolicies(fresh->policy, running.agency_type, clock.NowUnix());
  if (!policies.ok()) return fail("policy", policies.status());

  const std::vector<std::string> restart = RestartNeeded(running, *fresh);
  for (const auto& what : restart) {
    mash::common::LogWarn("agent.reload_restart_needed", {{"setting", what}});
  }
  const std::string before = responder.policies().enforced().version;
  mash::common::SetLogLevel(fresh->log.level);
  channel.SetTlsContext(std::move(*ctx));  // from the next connection
  responder.SetPolicies(*policies);
  const mash::policy::PolicySet& now = responder.policies();
  const std::string shadow = now.shadow() ? now.shadow()->version : "";
  if (now.enforced().version != before) {
    mash::common::LogInfo("policy.changed", {{"policy", now.enforced().id},
                                             {"from", before},
                                             {"version", now.enforced().version},
                                             {"shadow", shadow}});
  }
  if (status != nullptr) status->RecordPolicy(now.enforced().version, shadow);
  running.log.level = fresh->log.level;
  running.tls = fresh->tls;
  running.policy = fresh->policy;
  running.drain_timeout = fresh->drain_timeout;
  mash::common::LogInfo("agent.reloaded",
                        {{"policy", now.enforced().version}, {"restart_needed", restart}});
  mash::common::NotifyReady("running");
}

int Run(const std::string& config_path, mash::agent::AgentConfig config) {
  mash::common::InitLogging(config.log);
  mash::common::SystemClock clock;
  mash::common::SystemRandom random;
  auto ctx = mash::crypto::MakeTlsContext(config.tls);
  if (!ctx.ok()) {
    mash::common::LogError("agent.start_failed", {{"error", ctx.status().ToString()}});
    return kExitConfig;
  }
  auto responder = mash::agent::Responder::Create(config, clock, random);
  if (!responder.ok()) {
    mash::common::LogError("agent.start_failed", {{"error", responder.status().ToString()}});
    return kExitConfig;
  }
  auto dial = mash::agent::DialOptionsFor(config);  // reads the proxy credentials
  if (!dial.ok()) {
    mash::common::LogError("agent.start_failed", {{"error", dial.status().ToString()}});
    return kExitConfig;
  }
  boost::asio::io_context io(1);
  mash::agent::ChannelOptions options;
  options.broker = config.broker;
  options.proxy = dial->proxy;
  options.proxy_authorization = dial->proxy_authorization;
  options.handshake_timeout = config.handshake_timeout;
  options.ping_interval = config.ping_interval;
  options.backoff_initial = config.backoff_initial;
  options.backoff_max = config.backoff_max;
  auto channel =
      std::make_shared<mash::agent::Channel>(io, *ctx, options, responder->get(), random);
  // The metrics exist whether or not [ops] listen serves them: counting is cheap.
  auto registry = std::make_shared<prometheus::Registry>();
  mash::agent::AgentMetrics metrics(*registry);
  (*responder)->set_metrics(&metrics);
  channel->set_metrics(&metrics);
  std::shared_ptr<mash::ops::OpsServer> ops_server;
  if (config.ops_listen) {
    auto started =
        mash::agent::StartAgentOps(io, config, channel.get(), responder->get(), &metrics, registry);
    if (!started.ok()) {
      mash::common::LogError("agent.start_failed", {{"error", started.status().ToString()}});
      return kExitConfig;
    }
    ops_server = std::move(*started);
  }
  std::shared_ptr<mash::agent::CertificateRenewer> renewer;
  std::unique_ptr<mash::agent::AgentStatusStore> status_store;
  // WATCHDOG=1 while the event loop turns, when the unit sets WatchdogSec.
  boost::asio::steady_timer watchdog(io);
  const auto watchdog_interval = mash::common::WatchdogPingInterval();
  std::function<void()> ping_watchdog = [&] {
    watchdog.expires_after(*watchdog_interval);
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      mash::common::NotifyServiceManager("WATCHDOG=1");
      ping_watchdog();
    });
  };
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  bool stopped = false;  // the channel stopped: the signal wait is not armed again
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    mash::common::LogInfo("agent.signal", {{"signal", sig}});
    if (sig == SIGHUP) {
      if (!stopping) {
        ReloadAgent(config_path, config, *channel, **responder, status_store.get(), clock);
      }
    } else if (stopping) {
      mash::common::LogWarn("agent.stop_now");  // a second stop signal: no more waiting
      if (ops_server) ops_server->Stop();
      channel->Stop();
      watchdog.cancel();
      return;  // not waiting again: the io_context ends once the channel's work is gone
    } else {
      stopping = true;
      mash::common::NotifyStopping("finishing answers");
      if (renewer) renewer->Stop();
      // Without a connection the drained callback runs at once, inside this handler.
      channel->Drain(config.drain_timeout, [&] {
        stopped = true;
        if (ops_server) ops_server->Stop();
        channel->Stop();
        watchdog.cancel();
        signals.cancel();
      });
    }
    if (!stopped) signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  // Renews the certificate before it expires; the channel uses it from its next connection.
  renewer = std::make_shared<mash::agent::CertificateRenewer>(io, config, clock, [&] {
    auto renewed = mash::crypto::MakeTlsContext(config.tls);
    if (renewed.ok()) {
      channel->SetTlsContext(*renewed);
    } else {
      mash::common::LogError("renew.reload_failed", {{"error", renewed.status().ToString()}});
    }
  });
  mash::common::LogInfo("agent.started", {{"agency", config.agency_id}});
  // Live state for `mash-agent status`; advisory, so a failure is logged and not fatal.
  auto status = mash::agent::AgentStatusStore::Open(config, clock);
  if (status.ok()) {
    status_store = std::move(*status);
    const auto& policies = (*responder)->policies();
    status_store->RecordStart(::getpid(), policies.enforced().version,
                              policies.shadow() ? policies.shadow()->version : "");
    channel->set_observer(status_store.get());
  } else {
    mash::common::LogWarn("status.unavailable", {{"error", status.status().message()}});
  }
  renewer->Start();
  channel->Start();
  // Keys, records, the disclosure policy and the databases are open: the agent answers as soon
  // as the hub is reachable.
  if (watchdog_interval) ping_watchdog();
  mash::common::NotifyReady("running");
  io.run();
  if (status_store) status_store->RecordStop();
  mash::common::LogInfo("agent.stopped", {{"agency", config.agency_id}});
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  mash::common::InitCrypto();
  CLI::App app{"mash-agent: answers MASH agency checks under the agency's own policy"};
  app.require_subcommand(1);
  std::string config_path;
  auto* run = app.add_subcommand("run", "connect to the hub and answer checks");
  run->add_option("--config", config_path, "agent.toml")->required();
  mash::agent::OpsCommands ops(app);
  auto* reset = app.add_subcommand(
      "audit-reset",
      "clear the audit witness alarm and forget the held checkpoint (agent stopped)");
  reset->add_option("--config", config_path, "agent.toml")->required();
  mash::agent::EnrolOptions enrol_options;
  auto* enrol = app.add_subcommand(
      "enrol", "enrol with the hub: one-time token + CA pin -> keys, certificate, agent.toml");
  enrol->add_option("--broker", enrol_options.broker, "the broker's API, https://HOST:PORT")
      ->required();
  enrol->add_option("--token-file", enrol_options.token_file, "the one-time token (mode 0600)")
      ->required();
  enrol->add_option("--ca-pin", enrol_options.ca_pin, "sha256:<hex> of the hub CA's public key")
      ->required();
  enrol->add_option("--dir", enrol_options.dir, "folder for keys, certificates and agent.toml")
      ->required();
  enrol->add_option("--agency-id", enrol_options.agency_id,
                    "refuse a token issued for another agency");
  auto* renew = app.add_subcommand("renew", "renew the agent's certificate now");
  renew->add_option("--config", config_path, "agent.toml")->required();
  const auto review = mash::agent::AddReviewCommands(app);  // review_commands.cc
  ImportArgs import_args;
  auto* import = app.add_subcommand(
      "import", "import person and category records into the record store ([records] store)");
  import->add_option("--config", config_path, "agent.toml")->required();
  import->add_option("--people", import_args.people, "people file (CSV or JSON)");
  import->add_option("--records", import_args.records, "category records file (CSV or JSON)");
  import->add_flag("--replace", import_args.replace,
                   "empty the store first (in the same transaction)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }
  if (mash::agent::ReviewSelected(*review)) return mash::agent::RunReviewCommand(*review);
  if (auto rc = ops.Run()) return *rc;
  if (*enrol) {
    mash::common::LogOptions log;
    log.service = "mash-agent";
    log.to_stderr = true;
    mash::common::InitLogging(log);
    mash::common::SystemClock clock;
    auto enrolled = mash::agent::Enrol(enrol_options, clock);
    if (!enrolled.ok()) {
      std::cerr << "mash-agent enrol: " << enrolled.status().message() << "\n";
      return enrolled.status().code() == mash::StatusCode::kUnavailable ||
                     enrolled.status().code() == mash::StatusCode::kDeadlineExceeded
                 ? kExitUnavailable
                 : kExitConfig;
    }
    std::cout << "enrolled as agency " << enrolled->agency << "; certificate valid until "
              << mash::common::FormatRfc3339(mash::common::FromUnix(enrolled->not_after))
              << "\nwrote " << enrolled->config.string()
              << ": fill in [records] and [policy], then run mash-agent check-config --config "
              << enrolled->config.string() << "\n";
    return kExitOk;
  }
  auto config = mash::agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitConfig;
  }
  if (*reset || *renew || *import) {
    // The reset, renewal and import reports go to stderr as log lines; stdout keeps the verdict.
    mash::common::LogOptions log = config->log;
    log.to_stderr = true;
    log.file.reset();
    mash::common::InitLogging(log);
  }
  if (*renew) {
    mash::common::SystemClock clock;
    auto renewed = mash::agent::RenewCertificate(*config, clock, /*force=*/true);
    if (!renewed.ok()) {
      std::cerr << config_path << ": renew: " << renewed.status().message() << "\n";
      return renewed.status().code() == mash::StatusCode::kUnavailable ||
                     renewed.status().code() == mash::StatusCode::kDeadlineExceeded
                 ? kExitUnavailable
                 : kExitConfig;
    }
    std::cout << "certificate renewed; valid until "
              << mash::common::FormatRfc3339(mash::common::FromUnix(renewed->not_after))
              << " (a running agent uses it from its next connection)\n";
    return kExitOk;
  }
  if (*import) return Import(*config, import_args);
  if (*reset) {
    mash::common::SystemClock clock;
    auto cleared = mash::agent::ResetAuditWitness(*config, clock.NowUnix());
    if (!cleared.ok()) {
      std::cerr << config_path << ": " << cleared.status().ToString() << "\n";
      return kExitConfig;
    }
    std::cout << "audit witness reset: " << *cleared
              << " alarm(s) cleared; the next checkpoint the hub shows will be trusted\n";
    return kExitOk;
  }
  return Run(config_path, std::move(*config));
}
