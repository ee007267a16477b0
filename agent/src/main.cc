// mash-agent: reads its configuration, builds the responder (keys, replay store, records,
// disclosure policy, witness) and the channel to the hub, and runs the event loop until SIGTERM
// or SIGINT. `check-config` also loads the disclosure policy and the audit key; `audit-reset`
// clears a witness alarm; `import` fills the built-in record store (docs/agent.md).
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "mash/agent/channel.h"
#include "mash/agent/config.h"
#include "mash/agent/disclosure.h"
#include "mash/agent/disclosure_log.h"
#include "mash/agent/record_import.h"
#include "mash/agent/record_source.h"
#include "mash/agent/responder.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"
#include "mash/crypto/tls.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // import: nothing imported
constexpr int kExitConfig = 2;
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

int Run(const mash::agent::AgentConfig& config) {
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
  boost::asio::io_context io(1);
  mash::agent::ChannelOptions options;
  options.broker = config.broker;
  options.handshake_timeout = config.handshake_timeout;
  options.ping_interval = config.ping_interval;
  options.backoff_initial = config.backoff_initial;
  options.backoff_max = config.backoff_max;
  auto channel =
      std::make_shared<mash::agent::Channel>(io, *ctx, options, responder->get(), random);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    mash::common::LogInfo("agent.signal", {{"signal", sig}});
    channel->Stop();
  });
  mash::common::LogInfo("agent.started", {{"agency", config.agency_id}});
  channel->Start();
  io.run();
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
  auto* check = app.add_subcommand("check-config", "check agent.toml and its policy and exit");
  check->add_option("--config", config_path, "agent.toml")->required();
  auto* reset = app.add_subcommand(
      "audit-reset",
      "clear the audit witness alarm and forget the held checkpoint (agent stopped)");
  reset->add_option("--config", config_path, "agent.toml")->required();
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
  auto config = mash::agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitConfig;
  }
  if (*check || *reset || *import) {
    // Policy warnings and the reset go to stderr as log lines; stdout keeps the verdict.
    mash::common::LogOptions log = config->log;
    log.to_stderr = true;
    log.file.reset();
    mash::common::InitLogging(log);
  }
  if (*check) {
    mash::common::SystemClock clock;
    auto policies =
        mash::agent::LoadDisclosurePolicies(config->policy, config->agency_type, clock.NowUnix());
    if (!policies.ok()) {
      std::cerr << config_path << ": " << policies.status().message() << "\n";
      return kExitConfig;
    }
    if (auto key = mash::crypto::LoadSigningPublicKey(config->audit_log_public_key); !key.ok()) {
      std::cerr << config_path << ": audit.log_public_key: " << key.status().message() << "\n";
      return kExitConfig;
    }
    // The fixture parses, or the command connector's program is an executable file.
    if (auto records = mash::agent::OpenRecordSource(*config); !records.ok()) {
      std::cerr << config_path << ": records: " << records.status().message() << "\n";
      return kExitConfig;
    }
    std::cout << config_path << ": OK (agency " << config->agency_id << ", policy "
              << (*policies)->enforced().version << ")\n";
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
  return Run(*config);
}
