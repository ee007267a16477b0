// mash-broker assembled: TLS contexts, the courier (keys and replay store), the audit log (with
// its start-up self-check), the sharing agreement, the check service, the agent hub and the API,
// all on one io_context.
//
// Thread safety: Create, Stop and the accessors run on the io_context's thread (or before it
// runs).
// Lifetime: handlers queued on the io_context refer to the broker's parts without owning them,
// so a Broker is destroyed only after io.run() has returned (Stop() first, then let run() drain:
// main.cc and the test harness do exactly this).
#pragma once

#include <prometheus/registry.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mash/audit/log.h"
#include "mash/broker/agent_hub.h"
#include "mash/broker/alerts.h"
#include "mash/broker/api_server.h"
#include "mash/broker/audit_reader.h"
#include "mash/broker/checks.h"
#include "mash/broker/config.h"
#include "mash/broker/courier.h"
#include "mash/broker/enrolment.h"
#include "mash/broker/metrics.h"
#include "mash/broker/policy_view.h"
#include "mash/broker/staff_directory.h"
#include "mash/ops/server.h"

namespace mash::broker {

class Broker {
 public:
  // Loads keys and TLS material, opens the databases, verifies the audit log (DataLoss when it
  // does not verify: the broker must not serve), loads the sharing agreement, binds both
  // listeners. Any failure leaves nothing listening (fail closed).
  // With [ops] listen set, also starts the loopback ops listener (/healthz, /readyz, /metrics)
  // on `io`; its metrics go to `registry` (one is made when null; tests pass their own).
  static Result<std::unique_ptr<Broker>> Create(
      boost::asio::io_context& io, const BrokerConfig& config, const common::Clock& clock,
      common::RandomSource& random, std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~Broker();

  uint16_t agent_port() const { return hub_->port(); }
  uint16_t api_port() const { return api_->port(); }
  CheckService& checks() { return *checks_; }
  AlertQueue& alerts() { return *alerts_; }
  AgentHub& hub() { return *hub_; }
  audit::AuditLog& audit() { return *audit_; }
  // The read side of the audit log, for IG officers and DPOs (the console's audit pages).
  AuditReader& audit_reader() { return *audit_reader_; }
  // The keys and replay store: what seals a message to an agency (a chase, for the tests).
  Courier& courier() { return *courier_; }
  // What the DPO pages read: the agreement, agency policy versions, shadow differences.
  PolicyView& policy_view() { return *policy_view_; }
  // Stops listening, closes connections and timers; io_context::run() then returns.
  void Stop();

  // The ops listener's port (0 without [ops] listen) and the metrics it serves.
  uint16_t ops_port() const;
  prometheus::Registry& metrics_registry() { return *registry_; }
  BrokerMetrics& metrics() { return *metrics_; }
  // What keeps the broker from doing its job, as /readyz names it; empty: ready.
  //   "audit_log_failing"  the last audit transaction failed (disk full, I/O error, size
  //                        ceiling): nothing can be recorded, so nothing is released
  //   "storage_full"       a database of this process found its disk full (storage.full)
  //   "draining"           BeginDrain ran (SIGTERM): monitoring and any load balancer stop
  //                        sending work while what is in flight finishes
  //   "stopped"            Stop() ran: neither listener is bound
  std::vector<std::string> NotReady() const;
  // Sets the gauges read from state (checks by state, open alerts, certificate expiry); the ops
  // listener calls it before each /metrics.
  void RefreshMetrics();
  // SIGHUP: puts in force what `fresh` (the config file read again) changes of the log level,
  // the sharing agreement (its store, bundle or file, checked against its trusted keys as at
  // start), the TLS certificate, key, CA and CRLs of both listeners (for new connections; open
  // ones keep theirs), the broker.toml API tokens and the drain bound. Settings that need a
  // restart (listen addresses, paths, keys, agencies, deadlines, alerts, staff, console, ...)
  // keep their running values, each logged as broker.reload_restart_needed.
  // All or nothing: when the certificates or the agreement do not load or verify, or the
  // agreement's policy_published event cannot be recorded, nothing changes, the error is
  // logged (broker.reload_failed) and audited (request_failed "reload_failed:tls" or
  // "reload_failed:policy"), and the error is returned. A new agreement version is recorded
  // (policy_published) before it is enforced. FailedPrecondition while draining or stopped.
  Status Reload(const BrokerConfig& fresh);
  // Logs and audits a reload that failed before it reached Reload (part "config": the file did
  // not load or check).
  void RecordReloadFailure(std::string_view part, const Status& error);

  // SIGTERM: the one place the broker's drain state lives. From now on new checks and
  // authorisations are refused (Unavailable: a generic 503), no new agent connection is
  // accepted and queued queries stay queued; queries already sent go on, their answers are
  // received, audited and compiled. `drained` runs on the io thread once none is in flight or
  // [lifecycle] drain_timeout_s has passed (then the caller calls Stop()). Once only.
  void BeginDrain(std::function<void()> drained);
  // True from BeginDrain on (a readiness probe reports not ready).
  bool draining() const { return checks_->draining(); }

 private:
  Broker(boost::asio::io_context& io, const BrokerConfig& config, const common::Clock& clock)
      : config_(config), clock_(clock), sweep_timer_(io), drain_timer_(io), watchdog_timer_(io) {}
  void ScheduleSweep();
  void ScheduleWatchdog();
  void WatchDrain();
  // The settings of `fresh` that differ from the running ones and need a restart.
  std::vector<std::string> RestartNeeded(const BrokerConfig& fresh) const;

  BrokerConfig config_;  // as started, with what reloads changed
  const common::Clock& clock_;
  std::string audit_fingerprint_;

  // Declared before the audit log, whose committer thread counts into them until it is joined.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<BrokerMetrics> metrics_;
  // The certificate files whose expiry the metrics show, by role.
  std::vector<std::pair<std::string, std::filesystem::path>> certificates_;

  // Declared first so that it is destroyed last: its destructor commits what is queued, and
  // the callbacks it calls then find the service gone and do nothing.
  std::unique_ptr<audit::AuditLog> audit_;
  std::shared_ptr<const crypto::Pseudonymiser> pseudonyms_;
  // Destroyed before the log: its destructor joins its worker; what it still has queued at the
  // log finds it gone.
  std::unique_ptr<AuditReader> audit_reader_;
  std::unique_ptr<Courier> courier_;
  std::unique_ptr<EnrolmentAuthority> enrolment_;
  std::unique_ptr<CheckStore> check_store_;
  // Before the check service, which reports to it: destroyed after it.
  std::unique_ptr<AlertStore> alert_store_;
  std::unique_ptr<AlertQueue> alerts_;
  // Declared before the check service, which tells it of differences and answers.
  std::unique_ptr<PolicyView> policy_view_;
  std::unique_ptr<CheckService> checks_;
  std::shared_ptr<AgentHub> hub_;
  std::unique_ptr<Console> console_;  // null when [console] is not enabled
  std::shared_ptr<ApiServer> api_;
  // Destroyed before the API server: its destructor joins the hashing thread and drops what is
  // still queued there, which may hold API sessions.
  std::unique_ptr<StaffDirectory> staff_;
  std::shared_ptr<ops::OpsServer> ops_;  // null without [ops] listen
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer watchdog_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::function<void()> on_drained_;
  bool stopped_ = false;
  int sweeps_ = 0;
};

}  // namespace mash::broker
