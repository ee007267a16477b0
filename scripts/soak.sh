#!/usr/bin/env bash
# Fault and load tests (issue 8, item 5) with the real processes on loopback: a broker and six
# agents from scripts/lib/hub.sh, and the faults a hub meets in a year. Each scenario sets up its
# own hub in its own temporary folder, asserts specific outcomes, prints one summary line
# ("soak: NAME: ok: ..." or "soak: NAME: FAILED: reason") and cleans up its processes and mounts
# on every exit path. Processes are only ever signalled by their pid.
#
#   load          1,000 concurrent connections (idle TCP on both ports, half-finished and
#                 certificate-less TLS on the agent port, slow and unauthenticated HTTP on the
#                 API) from tests/soak/mash-loadgen, against a broker with a small fd limit;
#                 checks raised meanwhile are answered by all six agencies within a bound, the
#                 broker's fds and RSS stay bounded and it does not spin, and afterwards its
#                 deadlines have closed every hostile connection
#   agent-kill    an agent stopped with queries queued to it, then killed with SIGKILL (and once
#                 more at a random moment of a load); the broker carries on, the other agencies'
#                 answers compile, the killed agency's part is answered after it restarts, its
#                 disclosure log holds no duplicate, and the audit log verifies
#   broker-crash  scripts/crash-test.sh (the broker SIGKILLed under load)
#   disk-full     the broker's data folder and then one agent's on a small tmpfs, filled while
#                 checks run: nothing shown without its audit event, one storage.full event, a
#                 generic 503 to API callers, recovery without a restart once space returns; an
#                 agent that cannot record a disclosure does not send it
#   clock-skew    one agent under libfaketime: 20 s ahead still answers; 10 minutes ahead is
#                 refused on both sides with clear log lines, nothing released, and its part
#                 ends failed instead of waiting
#
# Usage: scripts/soak.sh BIN_DIR [--short|--long] [SCENARIO...]   (default --short, every one)
# --short is what `./mash test` runs (CTest, label soak); --long runs longer and more rounds.
# Needs root for disk-full (mount -t tmpfs): it fails rather than skips without it.
# Environment: SOAK_KEEP=1 keeps the temporary folders (they are always kept on failure).
# shellcheck disable=SC2119  # hub_* functions take optional arguments, not the script's
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: scripts/soak.sh BIN_DIR [--short|--long] [SCENARIO...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
bin_dir=$(cd "$1" && pwd)
shift
mode=short
scenarios=()
for arg in "$@"; do
  case "$arg" in
    --short) mode=short ;;
    --long) mode=long ;;
    load|agent-kill|broker-crash|disk-full|clock-skew) scenarios+=("$arg") ;;
    *) usage ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(load agent-kill broker-crash disk-full clock-skew)
loadgen=$bin_dir/tests/soak/mash-loadgen
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"  # at the top: it declares global arrays

# ---- shared by the scenarios (each runs in its own subshell) ----

soak_name=
soak_mounts=()
soak_extra_pids=()
soak_fail() {  # soak_fail MESSAGE [LOG...]: the reason, the last lines of each LOG, exit 1
  local log
  echo "soak: $soak_name: FAILED: $1" >&2
  shift
  for log in "$@"; do
    [ -f "$log" ] || continue
    echo "--- last lines of ${log#"$hub_work"/}" >&2
    tail -n 12 "$log" >&2
  done
  exit 1
}

soak_cleanup() {
  local rc=$? pid m
  for pid in "${soak_extra_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${soak_extra_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # SIGCONT first: a stopped agent does not act on SIGTERM.
  for pid in "${hub_pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  hub_kill_all
  for m in "${soak_mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  if [ -n "${hub_work:-}" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "soak: $soak_name: files kept in $hub_work" >&2
    elif [ "${SOAK_KEEP:-}" = 1 ]; then
      echo "soak: $soak_name: files kept in $hub_work"
    else
      rm -rf "$hub_work"
    fi
  fi
  exit "$rc"
}

# soak_hub NAME: keys, policies and broker.toml in a new hub_work (the broker is not started).
soak_hub() {
  soak_name=$1
  hub_init "soak-$1" "$bin_dir"
  trap soak_cleanup EXIT
  trap 'exit 1' INT TERM
  hub_make_workdir "soak-$1"
  hub_make_keys >/dev/null
  hub_publish_policies >/dev/null
}

soak_start_hub() {  # the broker (already configured), the six agents, mashctl's environment
  hub_check_broker_config >/dev/null || soak_fail "broker.toml does not check"
  hub_start_broker
  hub_wait_broker_ready
  hub_start_agents 2>>"$hub_work/logs/check-config.log"
  hub_mashctl_env
  hub_wait_agents_online 200 ||
    soak_fail "only $hub_online agents online" "$hub_work/logs/broker.log"
}

soak_agent_pid() {  # soak_agent_pid ID: the pid of the agent started for ID
  local pid
  for pid in "${hub_pids[@]}"; do
    if [ "$pid" != "$hub_broker_pid" ] &&
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "agent-$1.toml"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

soak_request() {  # soak_request FILE [CONSENT_REF]: a request every agency is asked
  hub_write_request "$1" "${2:-soak consent form}" Amelia Jones 2015-03-09 \
    '{"nhs_number": "943 476 5919", "upn": "H801200001001"}'
}

# soak_raise_wait SECONDS: raises a check, waits for it; prints the check's JSON
soak_raise_wait() {
  "$hub_mashctl" check raise --from-file "$hub_work/request.json" --wait "$1" --json
}

# soak_parts JSON: "agency=state" for each part, space-separated
soak_parts() {
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(" ".join(a["agency"]+"="+a["state"] for a in j["agencies"]))' "$1"
}

# soak_answered JSON: how many agencies answered (categories waiting for their custodian count)
soak_answered() {
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(sum(a["state"] in ("answered", "awaiting_agency_review") for a in j["agencies"]))' "$1"
}

# soak_show_until ID SECONDS N: check show ID until N agencies answered or SECONDS passed; prints
# the last JSON (0 when N answered, 1 otherwise)
soak_show_until() {
  local id=$1 end=$((SECONDS + $2)) out=""
  while :; do
    out=$("$hub_mashctl" check show "$id" --json 2>/dev/null) || out=""
    if [ -n "$out" ] && [ "$(soak_answered "$out")" -ge "$3" ]; then
      printf '%s\n' "$out"
      return 0
    fi
    [ "$SECONDS" -lt "$end" ] || break
    sleep 0.2
  done
  printf '%s\n' "$out"
  return 1
}

soak_id() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$1"; }

soak_verify_audit() {  # prints mashctl audit verify's line; fails the scenario when it fails
  local out
  out=$("$hub_mashctl" audit verify --db "$hub_work/data/hub-audit.db" \
    --db-key "$hub_work/keys/hub.audit.db.key" --public-key "$hub_work/keys/hub.audit.sign.pub" \
    --checkpoint "$hub_work/data/audit-anchor.txt" 2>&1) || soak_fail "audit verify: $out"
  echo "${out#OK: }"
}

# soak_check_released SHOWS_DIR: every part shown "answered" in SHOWS_DIR/*.json has its
# answer_received event (run after the broker stopped); prints "N answers shown"
soak_check_released() {
  local audit=(--db "$hub_work/data/hub-audit.db" --db-key "$hub_work/keys/hub.audit.db.key")
  "$hub_mashctl" audit query "${audit[@]}" --type answer_received --limit 10000000 --json \
    > "$hub_work/answered.jsonl" || soak_fail "mashctl audit query failed"
  python3 - "$1" "$hub_work/answered.jsonl" <<'PY' || soak_fail "an answer was shown without its audit event (above)"
import glob, json, os, sys
shows, answered = sys.argv[1:3]
events = set()
with open(answered) as f:
    for line in f:
        if line.strip():
            e = json.loads(line)
            events.add((e["check_ref"], e["agency"]))
shown = set()
for p in glob.glob(os.path.join(shows, "*.json")):
    try:
        with open(p) as f:
            check = json.load(f)
    except ValueError:
        continue
    for part in check.get("agencies", []):
        if part["state"] == "answered":
            shown.add((check["id"], part["agency"]))
missing = sorted(shown - events)
for c, a in missing[:10]:
    print(f"soak: check {c}: {a}'s answer was shown without an answer_received event", file=sys.stderr)
if missing:
    sys.exit(1)
print(f"{len(shown)} answers shown")
PY
}

# ---- 1. load: 1,000 concurrent connections ----

scenario_load() {
  soak_hub load
  local attack=30 rounds=1 fd_limit=1400
  [ "$mode" = long ] && { attack=120; rounds=3; }
  [ -x "$loadgen" ] || soak_fail "$loadgen is missing; build the target mash-loadgen"
  hub_write_broker_config
  # Short deadlines, so that the drain is quick; and a small fd limit, so that the acceptors
  # meet EMFILE (256 agent + 256 API connections and the databases need more than 400).
  python3 - "$hub_work/broker.toml" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
# The API's pending slots above the hostile connections aimed at it (500): shedding the oldest
# cannot protect a staff connection from one address that reconnects faster than a handshake
# completes (see the report of issue 8), so the hub is sized for the attack.
for section, extra in (("agents", "handshake_timeout_s = 5"),
                       ("api", "request_timeout_s = 5\nmax_connections = 768\nmax_pending = 640")):
    head = f'[{section}]\nlisten_address = "127.0.0.1"\nlisten_port = 0\n'
    assert head in t, section
    t = t.replace(head, head + extra + "\n")
open(p, "w").write(t)
PY
  hub_check_broker_config >/dev/null || soak_fail "broker.toml does not check"
  ( ulimit -n "$fd_limit" && exec "$hub_broker_bin" run --config "$hub_work/broker.toml" ) \
    > "$hub_work/logs/broker.log" 2>&1 &
  hub_broker_pid=$!
  hub_pids+=("$hub_broker_pid")
  hub_wait_broker_ready
  hub_start_agents 2>>"$hub_work/logs/check-config.log"
  hub_mashctl_env
  hub_wait_agents_online 200 || soak_fail "only $hub_online agents online" "$hub_work/logs/broker.log"
  soak_request "$hub_work/request.json"
  soak_raise_wait 10 >/dev/null || soak_fail "a check before the load failed"

  local r worst_ms=0 checks=0 max_fd=0 max_rss=0 cpu0 cpu1 t0 t1 out ms fd rss n
  local summary=""
  for r in $(seq 1 "$rounds"); do
    cpu0=$(awk '{print $14 + $15}' "/proc/$hub_broker_pid/stat")
    t0=$(date +%s%N)
    # Each peer opens its next connection 50 ms after the broker closed the last one, so that
    # about 1,000 are open at any moment even though the broker ends the short-lived kinds
    # (half handshakes, refused certificates, unauthenticated requests) within a second.
    "$loadgen" --agent-port "$hub_agent_port" --api-port "$hub_api_port" \
      --idle-agent 200 --half-tls 150 --no-cert 150 --idle-api 200 --slow-http 200 --unauth 100 \
      --duration "$attack" --drain 25 --reconnect-ms 50 \
      > "$hub_work/loadgen-$r.json" 2> "$hub_work/logs/loadgen.log" &
    local lg=$!
    soak_extra_pids+=("$lg")
    sleep 2
    # Practitioners keep raising checks; each must be answered by all six within 15 s.
    while kill -0 "$lg" 2>/dev/null && [ "$(( ($(date +%s%N) - t0) / 1000000000 ))" -lt "$attack" ]; do
      local s=$(date +%s%N)
      out=$(soak_raise_wait 15 2>"$hub_work/logs/raise.err") ||
        soak_fail "a check raised during the load failed: $(cat "$hub_work/logs/raise.err")" \
          "$hub_work/logs/broker.log"
      ms=$(( ($(date +%s%N) - s) / 1000000 ))
      n=$(soak_answered "$out")
      [ "$n" -eq 6 ] || soak_fail "a check during the load: $(soak_parts "$out") after ${ms} ms"
      [ "$ms" -le 15000 ] || soak_fail "a check took $ms ms during the load"
      [ "$ms" -gt "$worst_ms" ] && worst_ms=$ms
      checks=$((checks + 1))
      fd=$(ls "/proc/$hub_broker_pid/fd" | wc -l)
      rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$hub_broker_pid/status")
      [ "$fd" -gt "$max_fd" ] && max_fd=$fd
      [ "$rss" -gt "$max_rss" ] && max_rss=$rss
      sleep 0.5
    done
    wait "$lg" || soak_fail "mash-loadgen failed" "$hub_work/logs/loadgen.log"
    soak_extra_pids=()
    t1=$(date +%s%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$hub_broker_pid/stat")
    kill -0 "$hub_broker_pid" 2>/dev/null || soak_fail "the broker died" "$hub_work/logs/broker.log"
    # Not spinning: the broker used at most 90% of one core over the attack (EMFILE in a tight
    # accept loop takes 100%).
    local wall_cs=$(( (t1 - t0) / 10000000 )) cpu_cs=$((cpu1 - cpu0))
    [ $((cpu_cs * 100)) -le $((wall_cs * 90)) ] ||
      soak_fail "the broker used ${cpu_cs} cs of CPU in ${wall_cs} cs: spinning?" "$hub_work/logs/broker.log"
    summary=$(python3 - "$hub_work/loadgen-$r.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
problems = []
if j["peak_open"] < 900:
    problems.append(f"only {j['peak_open']} connections were held at once")
if j["still_open"] != 0:
    problems.append(f"{j['still_open']} connections still open after the drain")
for k in ("idle_agent", "half_tls", "idle_api", "slow_http"):
    if j[k]["longest_open_ms"] > 30000:
        problems.append(f"{k}: one stayed open {j[k]['longest_open_ms']} ms")
if j["no_cert"]["opened"] and j["no_cert"]["tls_refused"] == 0:
    problems.append("no TLS handshake without a client certificate was refused")
st = j["unauth"].get("statuses", {})
if set(st) - {"401", "503"} or not st.get("401"):
    problems.append(f"unauthenticated requests got {st}")
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
opened = sum(j[k]["opened"] for k in j if isinstance(j[k], dict))
print(f"peak {j['peak_open']} open, {opened} opened, all closed {j['drain_ms']} ms into the drain, "
      f"{st.get('401', 0)} x 401")
PY
) || soak_fail "the hostile connections were not handled (above)" "$hub_work/logs/broker.log"
  done
  [ "$checks" -ge 2 ] || soak_fail "only $checks checks ran during the load"
  [ "$max_fd" -le "$fd_limit" ] || soak_fail "the broker held $max_fd fds"
  [ "$max_rss" -le 200 ] || soak_fail "the broker's RSS reached $max_rss MB"
  local emfile
  emfile=$(grep -c '"event":"[a-z]*\.accept_failed"' "$hub_work/logs/broker.log" || true)
  [ "$emfile" -le $((rounds * attack * 2 + 10)) ] ||
    soak_fail "$emfile accept_failed lines: the log is flooded"
  # After the load, the hub still serves as before.
  soak_raise_wait 10 >/dev/null || soak_fail "a check after the load failed" "$hub_work/logs/broker.log"
  hub_stop_all || soak_fail "a process exited with an error after SIGTERM" "$hub_work"/logs/*.log
  echo "soak: load: ok: $rounds x ${attack} s: $summary; $checks checks during it, slowest $worst_ms ms;" \
    "broker at most $max_fd fds (limit $fd_limit), $max_rss MB RSS; $emfile accept_failed lines"
}

# ---- 2. agent-kill: an agent SIGKILLed with queries in flight ----

scenario_agent_kill() {
  soak_hub agent-kill
  local rounds=2
  [ "$mode" = long ] && rounds=6
  hub_write_broker_config
  soak_start_hub
  soak_request "$hub_work/request.json"
  mkdir -p "$hub_work/shows"
  local pid r i ids=() out raised=0
  for r in $(seq 1 "$rounds"); do
    pid=$(soak_agent_pid police) || soak_fail "no police agent"
    if [ $((r % 2)) -eq 1 ]; then
      # Queries queued to a stopped agent, which then dies without answering them.
      kill -STOP "$pid"
      for i in 1 2 3 4 5; do
        out=$("$hub_mashctl" check raise --from-file "$hub_work/request.json" --json) ||
          soak_fail "raise with the police agent stopped"
        ids+=("$(soak_id "$out")")
        raised=$((raised + 1))
      done
      sleep 0.5
    else
      # A random moment of a load: checks raised back to back while the agent is killed.
      ( for i in $(seq 1 10); do
          "$hub_mashctl" check raise --from-file "$hub_work/request.json" || true
        done > "$hub_work/burst-$r.ids" ) &
      local burst=$!
      sleep "0.$((RANDOM % 9 + 1))"
    fi
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    hub_forget_pid "$pid"
    [ $((r % 2)) -eq 0 ] && { wait "$burst" || true; }
    # The broker carries on: the other five answer a check raised now.
    out=$("$hub_mashctl" check raise --from-file "$hub_work/request.json" --json) ||
      soak_fail "a check with the police agent dead failed" "$hub_work/logs/broker.log"
    out=$(soak_show_until "$(soak_id "$out")" 10 5) ||
      soak_fail "with police dead: $(soak_parts "$out")" "$hub_work/logs/broker.log"
    grep -q 'police=\(waiting_for_agent\|sent\)' <<<"$(soak_parts "$out")" ||
      soak_fail "police's part with police dead: $(soak_parts "$out")"
    ids+=("$(soak_id "$out")")
    raised=$((raised + 1))
    mv "$hub_work/logs/agent-police.log" "$hub_work/logs/agent-police-$r.log"
    hub_start_agent police 2>>"$hub_work/logs/check-config.log"
    hub_wait_agents_online 200 || soak_fail "police did not come back" "$hub_work/logs/broker.log"
  done
  local f line
  for f in "$hub_work"/burst-*.ids; do
    [ -f "$f" ] || continue
    while read -r line; do
      [[ "$line" =~ ^[0-9a-f]{32}$ ]] && ids+=("$line")
    done < "$f"
  done
  # Every check: all six answered once the agent is back (the broker resends unanswered queries).
  local late=0 id parts
  for id in "${ids[@]}"; do
    # Six once police is back, or five with police's part still sent: a query written to the
    # connection that died is not sent again (it stays unanswered until its deadline).
    if ! out=$(soak_show_until "$id" 8 6); then
      [ "$(soak_answered "$out")" -eq 5 ] && grep -q 'police=sent' <<<"$(soak_parts "$out")" ||
        soak_fail "check $id: $(soak_parts "$out")"
      late=$((late + 1))
    fi
    printf '%s\n' "$out" > "$hub_work/shows/$id.json"
  done
  hub_stop_all || soak_fail "a process exited with an error after SIGTERM" "$hub_work"/logs/*.log
  # The police disclosure log: one disclosure per check, never two.
  "$hub_agent_bin" log --config "$hub_work/agent-police.toml" --json --limit 100000 \
    > "$hub_work/police-log.json" 2>"$hub_work/logs/police-log.err" ||
    soak_fail "mash-agent log failed" "$hub_work/logs/police-log.err"
  local dups
  dups=$(python3 - "$hub_work/police-log.json" <<'PY'
import collections, json, sys
rows = json.load(open(sys.argv[1]))["entries"]
# No custodian decides anything here: two entries for one check are one disclosure twice.
c = collections.Counter(r["check_ref"] for r in rows)
d = {k: v for k, v in c.items() if v > 1}
print(f"{len(rows)} {len(d)}")
PY
) || soak_fail "cannot read the police disclosure log"
  [ "${dups#* }" = 0 ] || soak_fail "the police disclosure log holds ${dups#* } checks disclosed twice"
  local verified shown
  verified=$(soak_verify_audit)
  shown=$(soak_check_released "$hub_work/shows")
  echo "soak: agent-kill: ok: police SIGKILLed $rounds times with queries in flight; ${#ids[@]} checks," \
    "$late with police's part left unanswered (not resent), the rest answered by all six; $shown; ${dups% *} police disclosures, none twice; audit log $verified"
}

# ---- 3. broker-crash ----

scenario_broker_crash() {
  soak_name=broker-crash
  local rounds=3 out
  [ "$mode" = long ] && rounds=10
  out=$("$here/scripts/crash-test.sh" "$bin_dir" "$rounds" 2>&1) || {
    printf '%s\n' "$out" | tail -n 30 >&2
    echo "soak: broker-crash: FAILED: scripts/crash-test.sh (above)" >&2
    exit 1
  }
  echo "soak: broker-crash: ok: $(grep '^crash-test: [0-9]' <<<"$out" | sed 's/^crash-test: //')"
}

# ---- 4. disk-full ----

soak_mount() {  # soak_mount DIR SIZE: a tmpfs of SIZE at DIR; fails the scenario when impossible
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" 2>"$hub_work/logs/mount.err" ||
    soak_fail "cannot mount a tmpfs at $1 (root needed): $(cat "$hub_work/logs/mount.err")"
  soak_mounts+=("$1")
}

soak_fill() {  # soak_fill DIR: writes DIR/filler until the file system is full
  dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null || true
  sync
}

scenario_disk_full() {
  soak_name=disk-full
  [ "$(id -u)" -eq 0 ] || { echo "soak: disk-full: FAILED: needs root for mount -t tmpfs" >&2; exit 1; }
  soak_hub disk-full
  local rounds=1
  [ "$mode" = long ] && rounds=3
  hub_write_broker_config
  soak_mount "$hub_work/data" 64m
  soak_start_hub
  soak_request "$hub_work/request.json"
  soak_raise_wait 10 >/dev/null || soak_fail "a check before filling the disk failed"
  mkdir -p "$hub_work/shows"
  local r out code i refused=0 shown_during=0 full_events
  for r in $(seq 1 "$rounds"); do
    soak_fill "$hub_work/data"
    # Raise and show checks while the disk is full: each either fails with a generic 503 or
    # (when it squeezed in) is shown with only what was recorded.
    for i in $(seq 1 8); do
      out=$("$hub_mashctl" check raise --from-file "$hub_work/request.json" --json 2>"$hub_work/logs/raise.err") || true
      if [ -n "$out" ]; then
        printf '%s\n' "$out" > "$hub_work/shows/full-$r-$i.json"
        shown_during=$((shown_during + 1))
      else
        grep -q '503' "$hub_work/logs/raise.err" ||
          soak_fail "a raise on a full disk: not a 503: $(cat "$hub_work/logs/raise.err")" "$hub_work/logs/broker.log"
        grep -qiE 'sqlite|sqlcipher|database|disk|errno' "$hub_work/logs/raise.err" &&
          soak_fail "the API error names the storage: $(cat "$hub_work/logs/raise.err")"
        refused=$((refused + 1))
      fi
    done
    [ "$refused" -gt 0 ] || soak_fail "no raise was refused with the disk full"
    # Reads that need no new audit event still work (an operator can look).
    if "$hub_mashctl" check list >/dev/null 2>&1; then code=ok; else code=refused; fi
    kill -0 "$hub_broker_pid" 2>/dev/null || soak_fail "the broker died on a full disk" "$hub_work/logs/broker.log"
    full_events=$(grep -c '"event":"storage.full"' "$hub_work/logs/broker.log" || true)
    [ "$full_events" -ge 1 ] || soak_fail "no storage.full event in the broker's log" "$hub_work/logs/broker.log"
    [ "$full_events" -le "$r" ] || soak_fail "$full_events storage.full events: a flood, not one per episode"
    # /readyz tells a load balancer or monitor the same thing.
    out=$(curl -sS "http://127.0.0.1:$hub_ops_port/readyz" || true)
    grep -q '"storage_full"' <<<"$out" || soak_fail "/readyz on a full disk: $out"
    # Space returns: the broker recovers without a restart.
    rm -f "$hub_work/data/filler"
    out=$(soak_raise_wait 15 2>"$hub_work/logs/raise.err") ||
      soak_fail "no recovery once space returned: $(cat "$hub_work/logs/raise.err")" "$hub_work/logs/broker.log"
    [ "$(soak_answered "$out")" -eq 6 ] ||
      soak_fail "after recovery: $(soak_parts "$out")"
    printf '%s\n' "$out" > "$hub_work/shows/after-$r.json"
    grep -q '"event":"storage.recovered"' "$hub_work/logs/broker.log" ||
      soak_fail "no storage.recovered event once space returned" "$hub_work/logs/broker.log"
    out=$(curl -sS "http://127.0.0.1:$hub_ops_port/readyz" || true)
    grep -q '"ready":true' <<<"$out" || soak_fail "/readyz after space returned: $out"
  done
  local broker_summary="$refused raises refused (503) on a full disk, list $code, $full_events storage.full event(s), recovered without a restart"

  # One agent's data folder full: it must not send what it cannot record.
  local police_db=$hub_work/police-data
  soak_mount "$police_db" 16m
  local pid
  pid=$(soak_agent_pid police) || soak_fail "no police agent"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; hub_forget_pid "$pid"
  # Its database moves with it (a new one would restart its envelope sequence, which the broker
  # rightly refuses).
  cp -p "$hub_work/data/police.db" "$police_db/"
  for f in "$hub_work/data/police.db-wal" "$hub_work/data/police.db-shm"; do
    [ -f "$f" ] && cp -p "$f" "$police_db/"
  done
  hub_write_agent_config police
  sed -i "s|^database = \".*/data/police.db\"|database = \"$police_db/police.db\"|" "$hub_work/agent-police.toml"
  "$hub_agent_bin" run --config "$hub_work/agent-police.toml" > "$hub_work/logs/agent-police-full.log" 2>&1 &
  hub_pids+=($!)
  hub_wait_agents_online 200 || soak_fail "police did not come back on its tmpfs" "$hub_work/logs/agent-police-full.log"
  soak_raise_wait 10 >/dev/null || soak_fail "a check with police on its tmpfs failed"
  local before after
  before=$("$hub_agent_bin" log --config "$hub_work/agent-police.toml" --json --limit 100000 2>/dev/null | grep -o '"check_ref"' | wc -l)
  soak_fill "$police_db"
  out=$("$hub_mashctl" check raise --from-file "$hub_work/request.json" --json) ||
    soak_fail "a raise with police's disk full failed"
  out=$(soak_show_until "$(soak_id "$out")" 10 5) || true
  sleep 3  # time for police to answer, if it wrongly does
  out=$("$hub_mashctl" check show "$(soak_id "$out")" --json) || soak_fail "check show failed"
  local police_state
  police_state=$(grep -o 'police=[a-z_]*' <<<"$(soak_parts "$out")" || true)
  printf '%s\n' "$out" > "$hub_work/shows/agent-full.json"
  grep -Eq '^police=(sent|failed|waiting_for_agent)$' <<<"$police_state" ||
    soak_fail "police answered although it could not record the disclosure" "$hub_work/logs/agent-police-full.log"
  [ "$(soak_answered "$out")" -eq 5 ] ||
    soak_fail "with police's disk full, the others: $(soak_parts "$out")"
  grep -q '"event":"storage.full"' "$hub_work/logs/agent-police-full.log" ||
    soak_fail "no storage.full event in the police agent's log" "$hub_work/logs/agent-police-full.log"
  rm -f "$police_db/filler"
  out=$(soak_raise_wait 15) || soak_fail "police did not recover once space returned"
  grep -Eq 'police=(answered|awaiting_agency_review)' <<<"$(soak_parts "$out")" ||
    soak_fail "after police's space returned: $(soak_parts "$out")" "$hub_work/logs/agent-police-full.log"
  after=$("$hub_agent_bin" log --config "$hub_work/agent-police.toml" --json --limit 100000 2>/dev/null | grep -o '"check_ref"' | wc -l)
  hub_stop_all || soak_fail "a process exited with an error after SIGTERM" "$hub_work"/logs/*.log
  local verified shown
  verified=$(soak_verify_audit)
  shown=$(soak_check_released "$hub_work/shows")
  echo "soak: disk-full: ok: broker: $broker_summary; police agent: full disk -> $police_state," \
    "recovered ($before -> $after disclosures); $shown; audit log $verified"
}

# ---- 5. clock-skew ----

scenario_clock_skew() {
  soak_hub clock-skew
  local lib
  lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
  [ -n "$lib" ] || soak_fail "libfaketime is missing (apt-get install faketime)"
  hub_write_broker_config
  soak_start_hub
  soak_request "$hub_work/request.json"
  local skew out parts pid results=()
  for skew in +20s +10m; do
    pid=$(soak_agent_pid health) || soak_fail "no health agent"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; hub_forget_pid "$pid"
    hub_write_agent_config health
    LD_PRELOAD=$lib FAKETIME="$skew" FAKETIME_DONT_FAKE_MONOTONIC=1 \
      "$hub_agent_bin" run --config "$hub_work/agent-health.toml" > "$hub_work/logs/agent-health-$skew.log" 2>&1 &
    hub_pids+=($!)
    hub_wait_agents_online 200 || soak_fail "health ($skew) did not connect" "$hub_work/logs/agent-health-$skew.log"
    out=$("$hub_mashctl" check raise --from-file "$hub_work/request.json" --json) ||
      soak_fail "a raise with health $skew failed"
    local id
    id=$(soak_id "$out")
    out=$(soak_show_until "$id" 15 5) || soak_fail "health $skew, the others: $(soak_parts "$out")"
    if [ "$skew" = +20s ]; then
      out=$(soak_show_until "$id" 15 6) || soak_fail "health $skew: $(soak_parts "$out")"
    else
      sleep 3  # time for health to answer, if it wrongly does
      out=$("$hub_mashctl" check show "$id" --json) || soak_fail "check show failed"
      parts=$(soak_parts "$out")
      grep -Eq 'health=(sent|failed|no_answer)' <<<"$parts" ||
        soak_fail "health $skew: its part is $parts" "$hub_work/logs/agent-health-$skew.log"
      # Clear lines on both sides: the agent names the time window, the broker the refusal.
      grep -q '"event":"query.rejected".*\(expired\|future\|not yet valid\|time\)' \
        "$hub_work/logs/agent-health-$skew.log" ||
        soak_fail "the skewed agent logged no clear query.rejected line" "$hub_work/logs/agent-health-$skew.log"
      grep -q '"agency":"health".*"event":"agent.reported_error"\|"event":"agent.reported_error".*"agency":"health"' \
        "$hub_work/logs/broker.log" || soak_fail "the broker logged no refusal from health" "$hub_work/logs/broker.log"
      # Nothing released: the skewed agent's disclosure log has nothing for this check.
      local logged
      logged=$("$hub_agent_bin" log --config "$hub_work/agent-health.toml" --check "$id" --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))') ||
        soak_fail "mash-agent log failed"
      [ "$logged" = 0 ] || soak_fail "health $skew recorded $logged disclosures for check $id"
    fi
    parts=$(soak_parts "$out")
    results+=("health $skew: $(grep -o 'health=[a-z_]*' <<<"$parts")")
  done
  hub_stop_all || soak_fail "a process exited with an error after SIGTERM" "$hub_work"/logs/*.log
  local verified
  verified=$(soak_verify_audit)
  echo "soak: clock-skew: ok: ${results[*]}; audit log $verified"
}

rc=0
started=$SECONDS
for s in "${scenarios[@]}"; do
  t=$SECONDS
  if ( "scenario_${s//-/_}" ); then
    echo "soak: $s took $((SECONDS - t)) s"
  else
    rc=1
    echo "soak: $s FAILED after $((SECONDS - t)) s" >&2
  fi
done
[ "$rc" -eq 0 ] && echo "soak passed ($mode, $((SECONDS - started)) s)"
exit "$rc"
