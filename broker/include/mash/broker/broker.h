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
#include <memory>
#include <string>
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
  // Draining (SIGTERM, before Stop): /readyz answers 503 "draining" so that monitoring and any
  // load balancer stop sending work, while what is in flight finishes. SetDraining(false)
  // undoes it (a cancelled stop).
  void SetDraining(bool draining) { draining_ = draining; }
  // What keeps the broker from doing its job, as /readyz names it; empty: ready.
  //   "audit_log_failing"  the last audit transaction failed (disk full, I/O error, size
  //                        ceiling): nothing can be recorded, so nothing is released
  //   "draining"           SetDraining(true)
  //   "stopped"            Stop() ran: neither listener is bound
  std::vector<std::string> NotReady() const;
  // Sets the gauges read from state (checks by state, open alerts, certificate expiry); the ops
  // listener calls it before each /metrics.
  void RefreshMetrics();

 private:
  explicit Broker(boost::asio::io_context& io) : sweep_timer_(io) {}
  void ScheduleSweep();

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
  bool stopped_ = false;
  bool draining_ = false;
  int sweeps_ = 0;
};

}  // namespace mash::broker
