// mash-broker: reads its configuration, builds the broker and runs the event loop. Signals, on
// the event loop: SIGHUP reads the configuration file again and reloads what can change live
// (Broker::Reload); SIGTERM or SIGINT drains (Broker::BeginDrain) and then stops; a second one
// stops at once. The service manager hears READY=1 once the audit log verified and both
// listeners are bound, RELOADING=1 then READY=1 around a reload, STOPPING=1 at the first stop
// signal (common/notify.h). Everything else lives in the mash::broker library.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <iostream>

#include "mash/broker/broker.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"
#include "mash/common/notify.h"
#include "mash/policy/loader.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitCheckFailed = 1;
constexpr int kExitConfig = 2;
constexpr int kExitUnavailable = 3;

// SIGHUP: the configuration file read again, then Broker::Reload. Whatever fails leaves the
// running configuration in force.
void Reload(mash::broker::Broker& broker, const std::string& config_path) {
  mash::common::NotifyReloading("reloading configuration");
  auto fresh = mash::broker::LoadBrokerConfig(config_path);
  if (!fresh.ok()) {
    broker.RecordReloadFailure("config", fresh.status());
  } else {
    (void)broker.Reload(*fresh);  // logs and audits its own failures
  }
  mash::common::NotifyReady(fresh.ok() ? "serving" : "serving; last reload failed");
}

int Run(const std::string& config_path) {
  auto config = mash::broker::LoadBrokerConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kExitConfig;
  }
  mash::common::InitLogging(config->log);
  boost::asio::io_context io(1);
  mash::common::SystemClock clock;
  mash::common::SystemRandom random;
  auto broker = mash::broker::Broker::Create(io, *config, clock, random);
  if (!broker.ok()) {
    mash::common::LogError("broker.start_failed", {{"error", broker.status().ToString()}});
    switch (broker.status().code()) {
      case mash::StatusCode::kUnavailable:
        return kExitUnavailable;
      case mash::StatusCode::kDataLoss:  // the audit log failed its start-up check
        return kExitCheckFailed;
      default:
        return kExitConfig;
    }
  }
  mash::broker::Broker& b = **broker;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  bool stopped = false;  // Stop() ran: the signal wait is not armed again, so run() returns
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    mash::common::LogInfo("broker.signal", {{"signal", sig}});
    if (sig == SIGHUP) {
      if (!stopping) Reload(b, config_path);
    } else if (stopping) {
      mash::common::LogWarn("broker.stop_now");  // a second stop signal: no more waiting
      b.Stop();
      return;  // not waiting again: the io_context ends once the broker's work is gone
    } else {
      stopping = true;
      mash::common::NotifyStopping("draining");
      // With nothing in flight the drained callback runs at once, inside this handler.
      b.BeginDrain([&] {
        stopped = true;
        b.Stop();
        signals.cancel();
      });
    }
    if (!stopped) signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  mash::common::NotifyReady("serving");
  io.run();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  mash::common::InitCrypto();
  CLI::App app{"mash-broker: the MASH Exchange hub broker"};
  app.require_subcommand(1);
  std::string config_path;
  auto* run = app.add_subcommand("run", "run the broker");
  run->add_option("--config", config_path, "broker.toml")->required();
  auto* check = app.add_subcommand("check-config", "check broker.toml and exit");
  check->add_option("--config", config_path, "broker.toml")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }
  if (*check) {
    auto config = mash::broker::LoadBrokerConfig(config_path);
    if (!config.ok()) {
      std::cerr << config.status().message() << "\n";
      return kExitConfig;
    }
    const mash::policy::PolicySource source{config->policy.agreement, config->policy.store,
                                            config->policy.trusted_keys};
    auto agreement =
        mash::policy::LoadPolicySet(source, mash::policy::PolicyKind::kSharingAgreement);
    if (!agreement.ok()) {
      std::cerr << config_path << ": policy: " << agreement.status().message() << "\n";
      return kExitConfig;
    }
    std::cout << config_path << ": OK (" << config->agencies.size() << " agencies, agreement "
              << agreement->set->enforced().id << " " << agreement->set->enforced().version
              << ")\n";
    return kExitOk;
  }
  return Run(config_path);
}
