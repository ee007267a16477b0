// The running agent's live state, for `mash-agent status` (a separate process).
//
// Where: a name/value table `agent_status` in the agent's own SQLCipher database, written by the
// running agent on start, stop, connect, disconnect, each query and each answer, over its own
// connection to the database. Why there rather than a state file: the database is already the
// agent's one encrypted, crash-safe store (WAL lets `status` read while the agent writes), the
// status command must open it anyway (disclosure log, witness alarm, review queue), and no new
// file, permission or clean-up rule is needed. The connection writes with synchronous=NORMAL:
// the state is advisory, so a crash may lose the last update but never costs an fsync per query.
//
//   agent_status (name TEXT PRIMARY KEY, value TEXT)   no personal data: times, counts, versions
//     pid, started_at, stopped_at, connected ("1"/"0"), connected_since, disconnected_at,
//     connects, last_query_at, queries_received, answers_sent, last_chase_at, chases_received,
//     chases_refused, policy_version, shadow_version, software
//
// Times are Unix seconds. `queries_received`, `answers_sent`, `chases_received` (chases from the
// hub that verified) and `chases_refused` (chase frames dropped) count since `started_at`.
//
// Thread safety: an AgentStatusStore belongs to the io thread of the channel it observes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "mash/agent/channel.h"
#include "mash/agent/config.h"
#include "mash/common/clock.h"
#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::agent {

// What the running agent last recorded. Absent fields read as 0 / "".
struct LiveState {
  int64_t pid = 0;
  int64_t started_at = 0;
  int64_t stopped_at = 0;
  bool connected = false;
  int64_t connected_since = 0;
  int64_t disconnected_at = 0;
  int64_t connects = 0;
  int64_t last_query_at = 0;
  int64_t queries_received = 0;
  int64_t answers_sent = 0;
  int64_t last_chase_at = 0;  // the latest chase that verified
  int64_t chases_received = 0;
  int64_t chases_refused = 0;
  std::string policy_version;
  std::string shadow_version;
  std::string software;
  // True when a process with `pid` exists and the state does not say it stopped.
  bool running = false;
};

class AgentStatusStore final : public ChannelObserver {
 public:
  // Opens a connection to the agent's database (`config.database`, `config.database_key`) and
  // creates the table when needed. Errors: storage's.
  static Result<std::unique_ptr<AgentStatusStore>> Open(const AgentConfig& config,
                                                        const common::Clock& clock);

  // Start of a run: resets the counters and records pid, software and the policy versions in
  // force. Write errors are logged (`status.write_failed`), never fatal: status is advisory.
  void RecordStart(int64_t pid, const std::string& policy_version,
                   const std::string& shadow_version);
  void RecordStop();
  // The policy versions in force after a reload (SIGHUP).
  void RecordPolicy(const std::string& policy_version, const std::string& shadow_version);

  void OnConnected() override;
  void OnDisconnected() override;
  void OnQuery() override;
  void OnAnswerSent() override;
  void OnChase(bool accepted) override;

 private:
  AgentStatusStore(std::unique_ptr<storage::Database> db, const common::Clock& clock)
      : db_(std::move(db)), clock_(clock) {}
  void Write(const std::map<std::string, std::string>& values);

  std::unique_ptr<storage::Database> db_;
  const common::Clock& clock_;
  int64_t queries_ = 0;
  int64_t answers_ = 0;
  int64_t connects_ = 0;
  int64_t chases_ = 0;
  int64_t chases_refused_ = 0;
};

// Reads the state from an open database. No table (the agent never ran with this version) is an
// empty state, not an error. Storage errors otherwise. `running` is filled in.
Result<LiveState> ReadLiveState(storage::Database* db);

}  // namespace mash::agent
