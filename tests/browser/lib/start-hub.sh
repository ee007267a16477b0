#!/usr/bin/env bash
# A real MASH hub for the browser tests, as scripts/demo.sh brings one up: a development PKI and
# every key in a new temporary folder, the signed agreement and disclosure policies, mash-broker
# (serving the web console), generated records for FAMILIES synthetic families imported into six
# agents' SQLCipher stores, six mash-agent processes on loopback, and one staff account per role,
# each with a random password of its own (kept in a 0600 file for the browser to log in with).
#
# Usage: tests/browser/lib/start-hub.sh BIN_DIR [FAMILIES]
#   BIN_DIR   the build folder (broker/mash-broker, agent/mash-agent, cli/mashctl, agent/mash-synth)
#   FAMILIES  how many synthetic families (default $MASH_BROWSER_FAMILIES, else 100)
#
# Once everything runs it prints ONE line of JSON on stdout and waits:
#   {"url": "https://127.0.0.1:PORT/", "ca": ".../root-ca.pem", "cert": ".../broker.pem",
#    "work": "...", "synth": "...", "logs": "...", "mashctl_env": {...}, "admin_token_file": "...",
#    "users": {"practitioner": {"user": "...", "password": "...", "role": "...", "team": "...",
#              "name": "...", "token_file": "..."}, ...}}
# Everything else it (and hub.sh) prints goes to WORK/setup.log, shown on stderr if it fails.
# It stops every process and removes the folder on SIGTERM or SIGINT, or when its standard input
# closes (the test runner died): exit 0 when every process exited cleanly, 1 otherwise.
# MASH_BROWSER_KEEP=1 keeps the folder (configs, logs, databases) for a look afterwards.
# shellcheck disable=SC2119  # hub_* functions take optional arguments, not the script's
set -euo pipefail

here=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=../../../scripts/lib/hub.sh
source "$here/scripts/lib/hub.sh"
hub_init browser-hub "${1:?usage: tests/browser/lib/start-hub.sh BIN_DIR [FAMILIES]}" \
  " (./mash build)"
families=${2:-${MASH_BROWSER_FAMILIES:-100}}

hub_make_workdir browser
work=$hub_work
exec 3>&1 4>&2 # the JSON line goes to the real stdout; errors to the real stderr
exec >"$work/setup.log" 2>&1

ready=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$ready" ]; then
    hub_stop_all && rc=0 || { rc=1; echo "browser-hub: a process exited with an error" >&4; }
  else
    hub_kill_all
    [ "$rc" -eq 0 ] && rc=1
    echo "browser-hub: the hub did not start; the end of $work/setup.log:" >&4
    tail -n 40 "$work/setup.log" >&4 || true
    tail -n 5 "$work"/logs/*.log >&4 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -d "$work/logs" ]; then
    grep -h '"level":"error"' "$work"/logs/*.log >&4 2>/dev/null || true
  fi
  if [ "${MASH_BROWSER_KEEP:-}" = 1 ]; then
    echo "browser-hub: files kept in $work" >&4
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

hub_use_staff_accounts
hub_keep_passwords=yes
hub_make_keys
hub_publish_policies
hub_write_broker_config
hub_check_broker_config
hub_start_broker
hub_wait_broker_ready
hub_make_synthetic "$families"
hub_start_agents
hub_mashctl_env
hub_wait_agents_online || { echo "browser-hub: not every agent connected"; exit 1; }

# One account per role (KEY USER ROLE TEAM NAME); practitioner2 is in another team than the
# manager, for the tests of what a team may not see.
staff=(
  "practitioner pat.practitioner practitioner north-mash Pat Practitioner"
  "practitioner2 sam.south practitioner south-mash Sam South"
  "manager mina.manager manager north-mash Mina Manager"
  "ig ian.ig ig_officer ig Ian IG"
  "dpo dee.dpo dpo ig Dee DPO"
  "admin ada.admin admin hub Ada Admin"
  "custodian carl.custodian custodian police Carl Custodian"
)
for entry in "${staff[@]}"; do
  read -r _ user role team name <<<"$entry"
  hub_add_staff "$user" "$role" "$team" "$name"
done

python3 - "$work" "$hub_api_port" "$MASH_BROKER" "${staff[@]}" >&3 <<'PY'
import json, os, sys
work, port, broker, entries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
users = {}
for entry in entries:
    key, user, role, team, name = entry.split(" ", 4)
    with open(f"{work}/staff/{user}.pw") as f:
        password = f.read().strip()
    users[key] = {"user": user, "password": password, "role": role, "team": team, "name": name,
                  "token_file": f"{work}/keys/{user}.token"}
print(json.dumps({
    "url": f"https://127.0.0.1:{port}/",
    "ca": f"{work}/pki/root-ca.pem",
    "cert": f"{work}/pki/broker.pem",
    "work": work,
    "synth": f"{work}/synth",
    "logs": f"{work}/logs",
    "mashctl_env": {k: os.environ[k] for k in ("MASH_BROKER", "MASH_CA", "MASH_CRLS")},
    "admin_token_file": f"{work}/keys/demo.admin.token",
    "users": users,
}), flush=True)
PY
ready=yes

# Wait for SIGTERM / SIGINT, or for standard input to close.
cat >/dev/null <&0 &
wait $! || true
