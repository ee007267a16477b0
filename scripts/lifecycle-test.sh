#!/usr/bin/env bash
# The daemons' lifecycle with the real processes (issue 8 item 3): each tells the service manager
# READY=1 once it serves, RELOADING=1 then READY=1 around a SIGHUP reload (also one that fails:
# the running configuration stays), and STOPPING=1 on SIGTERM, after which it drains and exits
# 0. The service manager is played by a unix datagram socket per daemon (NOTIFY_SOCKET), as
# systemd's Type=notify uses. Exits 0 and prints "lifecycle test passed".
#
# Usage: scripts/lifecycle-test.sh BIN_DIR
# shellcheck disable=SC2119
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init lifecycle-test "${1:?usage: scripts/lifecycle-test.sh BIN_DIR}"
hub_make_workdir lifecycle-test
work=$hub_work
listeners=()
cleanup() {
  local rc=$?
  hub_kill_all
  local p
  for p in "${listeners[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    tail -n 20 "$work"/logs/*.log >&2 || true
    tail -n 20 "$work"/notify-*.txt >&2 || true
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM
fail() { echo "lifecycle-test: $*" >&2; exit 1; }

# listen NAME: a datagram socket $work/NAME.sock whose messages go to $work/notify-NAME.txt,
# one per line (a message's own newlines become spaces).
listen() {
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(65536).decode().replace("\n", " ") + "\n")
' "$work/$1.sock" "$work/notify-$1.txt" &
  listeners+=($!)
  for _ in $(seq 1 50); do [ -S "$work/$1.sock" ] && return 0; sleep 0.1; done
  fail "the $1 notify socket did not appear"
}

# wait_for FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN (10 s).
wait_for() {
  local n
  for _ in $(seq 1 100); do
    n=$(grep -c -- "$2" "$1" 2>/dev/null || true)
    [ "${n:-0}" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "$(basename "$1"): expected $3 x '$2', saw ${n:-0}"
}

hub_make_keys
hub_publish_policies
hub_agencies=(police)
hub_write_broker_config
printf '\n[lifecycle]\ndrain_timeout_s = 5\n' >> "$work/broker.toml"
hub_check_broker_config >/dev/null

listen broker
listen agent
touch "$work/notify-broker.txt" "$work/notify-agent.txt"
NOTIFY_SOCKET=$work/broker.sock hub_start_broker
hub_wait_broker_ready
wait_for "$work/notify-broker.txt" "^READY=1 STATUS=serving" 1
echo "broker: READY=1"

NOTIFY_SOCKET=$work/agent.sock hub_start_agent police
wait_for "$work/notify-agent.txt" "^READY=1" 1
echo "agent: READY=1"

# A reload of the unchanged configuration.
kill -HUP "$hub_broker_pid"
wait_for "$work/notify-broker.txt" "^RELOADING=1 MONOTONIC_USEC=[0-9]* STATUS=" 1
wait_for "$work/notify-broker.txt" "^READY=1 STATUS=serving$" 2
grep -q '"event":"broker.reloaded"' "$work/logs/broker.log" || fail "broker.reloaded not logged"
echo "broker: SIGHUP -> RELOADING=1, READY=1"

# A broken configuration: the reload fails, the broker keeps serving what it had.
cp "$work/broker.toml" "$work/broker.toml.good"
echo 'this is not toml' >> "$work/broker.toml"
kill -HUP "$hub_broker_pid"
wait_for "$work/notify-broker.txt" "^RELOADING=1" 2
wait_for "$work/notify-broker.txt" "^READY=1 STATUS=serving; last reload failed" 1
grep -q '"event":"broker.reload_failed".*"part":"config"' "$work/logs/broker.log" ||
  fail "broker.reload_failed (config) not logged"
kill -0 "$hub_broker_pid" || fail "the broker died on a broken configuration"
cp "$work/broker.toml.good" "$work/broker.toml"
echo "broker: broken configuration refused, still serving"

kill -HUP "${hub_pids[1]}"
wait_for "$work/notify-agent.txt" "^RELOADING=1" 1
wait_for "$work/notify-agent.txt" "^READY=1 STATUS=running$" 2
grep -q '"event":"agent.reloaded"' "$work/logs/agent-police.log" || fail "agent.reloaded not logged"
echo "agent: SIGHUP -> RELOADING=1, READY=1"

agent_pid=${hub_pids[1]}
kill -TERM "$agent_pid"
wait_for "$work/notify-agent.txt" "^STOPPING=1" 1
wait "$agent_pid" || fail "the agent exited with an error after SIGTERM"
hub_forget_pid "$agent_pid"
echo "agent: SIGTERM -> STOPPING=1, exit 0"

kill -TERM "$hub_broker_pid"
wait_for "$work/notify-broker.txt" "^STOPPING=1" 1
wait "$hub_broker_pid" || fail "the broker exited with an error after SIGTERM"
hub_forget_pid "$hub_broker_pid"
grep -q '"event":"broker.drained"' "$work/logs/broker.log" || fail "broker.drained not logged"
grep -q '"event":"broker.stopped"' "$work/logs/broker.log" || fail "broker.stopped not logged"
echo "broker: SIGTERM -> STOPPING=1, drained, exit 0"
echo "lifecycle test passed"
