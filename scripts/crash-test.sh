#!/usr/bin/env bash
# Crash test (issue 4): the broker is killed with SIGKILL at random points during a load; after
# each restart it must pass its start-up self-check, and at the end every answer that had been
# released has its committed event and the audit log verifies.
#
# Sets up a hub with scripts/lib/hub.sh (broker on fixed free ports, six agents), then, per round,
# runs two load loops that raise checks with consent given (no authorisation needed) and show
# some of them, kills the broker with SIGKILL after a random 0.3-3 s, restarts it on the same
# ports and waits for broker.ready and for the agents to reconnect. Afterwards it stops everything
# gracefully and checks offline, with mashctl:
#   - `audit verify` passes, with the broker's anchor file as a trusted checkpoint;
#   - every check id the broker returned (`check raise --json`) has its check_raised event;
#   - every agency part shown as "answered" (`check show --json`) has its answer_received event
#     for that check and agency;
#   - no agent logged an audit alarm, and no broker start-up check failed.
#
# Usage: scripts/crash-test.sh BIN_DIR [ROUNDS]
#   BIN_DIR  the build folder holding broker/mash-broker, agent/mash-agent and cli/mashctl
#   ROUNDS   how many times the broker is killed (default 3)
# Environment: CRASH_TEST_KEEP=1 keeps the temporary folder (it is always kept on failure).
# Prints one summary line and "crash test passed" on success; exits 1 with the reason otherwise.
# shellcheck disable=SC2119  # hub_* functions take optional arguments, not the script's
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init crash-test "${1:?usage: scripts/crash-test.sh BIN_DIR [ROUNDS]}"
rounds=${2:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/crash-test.sh BIN_DIR [ROUNDS]" >&2; exit 2; }
mashctl=$hub_mashctl
workers=2

hub_make_workdir crash-test
work=$hub_work
load=$work/load
mkdir -p "$load"
worker_pids=()
phase="setting up the hub"
cleanup() {
  local rc=$?
  touch "$load/stop" 2>/dev/null || true
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hub_kill_all
  if [ "$rc" -ne 0 ]; then
    echo "crash-test: failed while $phase; files kept in $work" >&2
  elif [ "${CRASH_TEST_KEEP:-}" = 1 ]; then
    echo "crash-test: files kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

fail() {  # fail MESSAGE [LOG...]: the reason, then the last lines of each LOG
  local log
  echo "crash-test: FAILED: $1" >&2
  shift
  for log in "$@"; do
    echo "--- last lines of ${log#"$work"/}" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}

started=$SECONDS
hub_make_keys >/dev/null
hub_publish_policies >/dev/null
# Fixed ports, so that the restarted broker is where the agents reconnect to.
read -r agent_port api_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
hub_write_broker_config "$agent_port" "$api_port"
hub_check_broker_config >/dev/null

starts=0
start_broker() {  # a new log per start: logs/broker-N.log
  broker_log=$work/logs/broker-$starts.log
  hub_start_broker "$broker_log"
  hub_wait_broker_ready "$broker_log"
  starts=$((starts + 1))
  if [ "$hub_agent_port" != "$agent_port" ] || [ "$hub_api_port" != "$api_port" ]; then
    fail "the broker listens on $hub_agent_port/$hub_api_port, not $agent_port/$api_port" "$broker_log"
  fi
}
wait_agents() {
  hub_wait_agents_online 200 ||
    fail "only $hub_online of ${#hub_agencies[@]} agents online after start $starts of the broker" \
      "$broker_log" "$work"/logs/agent-*.log
}

phase="starting the broker"
start_broker
phase="starting the agents (check-config output in logs/check-config.log)"
hub_start_agents 2>>"$work/logs/check-config.log"
hub_mashctl_env
wait_agents
echo "crash-test: hub up in $((SECONDS - started)) s (agents on $agent_port, API on $api_port); $rounds rounds"

# Two subjects, consent given: the agreement permits without a second approver.
hub_write_request "$work/request-0.json" "crash-test consent form" Amelia Jones 2015-03-09 \
  '{"nhs_number": "943 476 5919", "upn": "H801200001001"}'
hub_write_request "$work/request-1.json" "crash-test consent form" Sam Carter 1986-05-02 \
  '{"ni_number": "QQ123456C"}'

load_worker() {  # load_worker N: raises checks and shows recent ones until $load/stop exists
  local n=$1 i=0 out pick
  local recent=()
  while [ ! -e "$load/stop" ]; do
    i=$((i + 1))
    if out=$("$mashctl" check raise --from-file "$work/request-$((i % 2)).json" --json 2>/dev/null); then
      printf '%s\n' "$out" > "$load/raise-$n-$i.json"
      if [[ "$out" =~ \"id\":\ *\"([0-9a-f]+)\" ]]; then recent=("${BASH_REMATCH[1]}" "${recent[@]:0:3}"); fi
    fi
    # Every other time, show one of the last few checks raised (their answers come in ~0.1 s).
    if [ $((i % 2)) -eq 0 ] && [ "${#recent[@]}" -gt 0 ]; then
      pick=${recent[$((RANDOM % ${#recent[@]}))]}
      if out=$("$mashctl" check show "$pick" --json 2>/dev/null); then
        printf '%s\n' "$out" > "$load/show-$n-$i.json"
      fi
    fi
  done
}

kills=0
delays=()
for round in $(seq 1 "$rounds"); do
  phase="round $round: load"
  rm -f "$load/stop"
  worker_pids=()
  for w in $(seq 1 "$workers"); do
    load_worker "$round-$w" &
    worker_pids+=($!)
  done
  delay_ms=$((300 + RANDOM % 2701))
  delays+=("$delay_ms")
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"

  phase="round $round: SIGKILL of the broker after $delay_ms ms"
  hub_kill_broker KILL
  kills=$((kills + 1))

  phase="round $round: restarting the broker after SIGKILL"
  start_broker
  grep -q '"event":"audit.verified"' "$broker_log" ||
    fail "the restarted broker logged no audit.verified (start-up self-check)" "$broker_log"
  phase="round $round: waiting for the agents to reconnect"
  wait_agents
  sleep 1  # load on the restarted broker too
  touch "$load/stop"
  for pid in "${worker_pids[@]}"; do wait "$pid" || fail "load worker $pid exited with an error"; done
  worker_pids=()
done

phase="stopping gracefully"
sleep 0.5  # let answers in flight be recorded
hub_stop_all || fail "a process exited with an error after SIGTERM" "$work"/logs/*.log

phase="checking the logs"
if grep -H '"event":"audit.alarm"' "$work"/logs/agent-*.log >&2; then
  fail "an agent raised an audit alarm: the log it witnessed became inconsistent"
fi
if grep -H -E '"event":"(audit.startup_check(_|\.)failed|broker.start_failed)"' "$work"/logs/broker-*.log >&2; then
  fail "a broker start-up check failed"
fi

phase="verifying the audit log offline"
audit=(--db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key")
verify=$("$mashctl" audit verify "${audit[@]}" --public-key "$work/keys/hub.audit.sign.pub" \
  --checkpoint "$work/data/audit-anchor.txt" 2>&1) || fail "mashctl audit verify: $verify"
"$mashctl" audit query "${audit[@]}" --type check_raised --limit 10000000 --json > "$work/raised.jsonl" ||
  fail "mashctl audit query --type check_raised failed"
"$mashctl" audit query "${audit[@]}" --type answer_received --limit 10000000 --json > "$work/answered.jsonl" ||
  fail "mashctl audit query --type answer_received failed"

phase="matching what the broker released with the audit log"
summary=$(python3 - "$load" "$work/raised.jsonl" "$work/answered.jsonl" <<'PY'
import glob, json, os, sys
load, raised_path, answered_path = sys.argv[1:4]

def events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

raised_events = {e["check_ref"] for e in events(raised_path)}
answer_events = {(e["check_ref"], e["agency"]) for e in events(answered_path)}

returned = set()
for p in glob.glob(os.path.join(load, "raise-*.json")):
    with open(p) as f:
        returned.add(json.load(f)["id"])
shown = set()
shows = 0
for p in glob.glob(os.path.join(load, "show-*.json")):
    with open(p) as f:
        check = json.load(f)
    shows += 1
    for part in check["agencies"]:
        if part["state"] == "answered":
            shown.add((check["id"], part["agency"]))

problems = []
for c in sorted(returned - raised_events):
    problems.append(f"check {c} was returned by the broker but has no check_raised event")
for c, a in sorted(shown - answer_events):
    problems.append(f"check {c}: {a}'s answer was shown as answered but has no answer_received event")
for p in problems[:20]:
    print("crash-test: " + p, file=sys.stderr)
if problems:
    print(f"crash-test: {len(problems)} released results without their audit events", file=sys.stderr)
    sys.exit(1)
if not returned or not shown:
    print(f"crash-test: too little load: {len(returned)} checks raised, {len(shown)} answers seen",
          file=sys.stderr)
    sys.exit(1)
print(f"{len(returned)} checks raised, {len(shown)} answers seen in {shows} check views")
PY
) || fail "released results are missing from the audit log (see above)"

echo "crash-test: $summary, $kills kills (after ${delays[*]} ms), broker restarted $kills times;" \
  "audit log ${verify#OK: }; $((SECONDS - started)) s"
echo "crash test passed"
