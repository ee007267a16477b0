#include "mash/agent/status.h"

#include <signal.h>

#include <cerrno>
#include <charconv>

#include "mash/common/log.h"

namespace mash::agent {
namespace {

constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS agent_status ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL) WITHOUT ROWID;";

constexpr const char* kSoftware = "mash-agent/0.1.0";

int64_t ToInt(const std::string& text) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && p == text.data() + text.size() ? v : 0;
}

bool ProcessExists(int64_t pid) {
  if (pid <= 0) return false;
  // EPERM: it exists but belongs to someone else (status run as another user).
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

Result<std::unique_ptr<AgentStatusStore>> AgentStatusStore::Open(const AgentConfig& config,
                                                                 const common::Clock& clock) {
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Database> db,
                        storage::Database::Open({config.database, config.database_key}));
  MASH_RETURN_IF_ERROR(db->Exec(kSchema));
  // Advisory state: losing the last update in a power cut is fine, an fsync per query is not.
  MASH_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = NORMAL"));
  return std::unique_ptr<AgentStatusStore>(new AgentStatusStore(std::move(db), clock));
}

void AgentStatusStore::Write(const std::map<std::string, std::string>& values) {
  const Status s = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement st,
        db_->Prepare("INSERT OR REPLACE INTO agent_status (name, value) VALUES (?, ?)"));
    for (const auto& [name, value] : values) {
      st.Reset();
      st.Bind(1, name).Bind(2, value);
      MASH_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  });
  if (!s.ok()) common::LogWarn("status.write_failed", {{"error", s.message()}});
}

void AgentStatusStore::RecordPolicy(const std::string& policy_version,
                                    const std::string& shadow_version) {
  Write({{"policy_version", policy_version}, {"shadow_version", shadow_version}});
}

void AgentStatusStore::RecordStart(int64_t pid, const std::string& policy_version,
                                   const std::string& shadow_version) {
  queries_ = answers_ = connects_ = chases_ = chases_refused_ = 0;
  const std::string now = std::to_string(clock_.NowUnix());
  Write({{"pid", std::to_string(pid)},
         {"started_at", now},
         {"stopped_at", "0"},
         {"connected", "0"},
         {"connected_since", "0"},
         {"disconnected_at", "0"},
         {"connects", "0"},
         {"last_query_at", "0"},
         {"queries_received", "0"},
         {"answers_sent", "0"},
         {"last_chase_at", "0"},
         {"chases_received", "0"},
         {"chases_refused", "0"},
         {"policy_version", policy_version},
         {"shadow_version", shadow_version},
         {"software", kSoftware}});
}

void AgentStatusStore::RecordStop() {
  Write({{"stopped_at", std::to_string(clock_.NowUnix())}, {"connected", "0"}});
}

void AgentStatusStore::OnConnected() {
  ++connects_;
  Write({{"connected", "1"},
         {"connected_since", std::to_string(clock_.NowUnix())},
         {"connects", std::to_string(connects_)}});
}

void AgentStatusStore::OnDisconnected() {
  Write({{"connected", "0"}, {"disconnected_at", std::to_string(clock_.NowUnix())}});
}

void AgentStatusStore::OnQuery() {
  ++queries_;
  Write({{"last_query_at", std::to_string(clock_.NowUnix())},
         {"queries_received", std::to_string(queries_)}});
}

void AgentStatusStore::OnAnswerSent() {
  ++answers_;
  Write({{"answers_sent", std::to_string(answers_)}});
}

void AgentStatusStore::OnChase(bool accepted) {
  if (!accepted) {
    ++chases_refused_;
    Write({{"chases_refused", std::to_string(chases_refused_)}});
    return;
  }
  ++chases_;
  Write({{"last_chase_at", std::to_string(clock_.NowUnix())},
         {"chases_received", std::to_string(chases_)}});
}

Result<LiveState> ReadLiveState(storage::Database* db) {
  LiveState state;
  MASH_ASSIGN_OR_RETURN(
      storage::Statement exists,
      db->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'agent_status'"));
  MASH_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (!has_table) return state;
  MASH_ASSIGN_OR_RETURN(storage::Statement s, db->Prepare("SELECT name, value FROM agent_status"));
  std::map<std::string, std::string> v;
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    v[s.ColumnText(0)] = s.ColumnText(1);
  }
  state.pid = ToInt(v["pid"]);
  state.started_at = ToInt(v["started_at"]);
  state.stopped_at = ToInt(v["stopped_at"]);
  state.connected = v["connected"] == "1";
  state.connected_since = ToInt(v["connected_since"]);
  state.disconnected_at = ToInt(v["disconnected_at"]);
  state.connects = ToInt(v["connects"]);
  state.last_query_at = ToInt(v["last_query_at"]);
  state.queries_received = ToInt(v["queries_received"]);
  state.answers_sent = ToInt(v["answers_sent"]);
  state.last_chase_at = ToInt(v["last_chase_at"]);
  state.chases_received = ToInt(v["chases_received"]);
  state.chases_refused = ToInt(v["chases_refused"]);
  state.policy_version = v["policy_version"];
  state.shadow_version = v["shadow_version"];
  state.software = v["software"];
  state.running = state.started_at != 0 && state.stopped_at == 0 && ProcessExists(state.pid);
  // A process that died without RecordStop: what it last said about the link is stale.
  if (!state.running) state.connected = false;
  return state;
}

}  // namespace mash::agent
