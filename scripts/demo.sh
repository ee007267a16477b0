#!/usr/bin/env bash
# The MASH Exchange demo: one agency check from the hub to six agencies and back, for real.
#
# Makes a development PKI and every key in a temporary folder; signs and publishes the hub's
# sharing agreement and each agency's disclosure policy (examples/policies) as its DPO would;
# starts mash-broker and six mash-agent processes (police, children's social care, health,
# education, probation, housing) on loopback; raises a red check that shares without consent,
# has a manager authorise it, prints each agency's answer (what was shared, redacted, routed to a
# custodian or withheld, and why) and how long it took; has the police custodian review what police
# policy routes to a person (mash-agent review); stops everything; then verifies the audit
# trail offline and prints the subject's disclosure history, as an IG officer would; and removes
# the folder.
#
# Usage: scripts/demo.sh BIN_DIR [--keep]
#   BIN_DIR  the build folder holding broker/mash-broker, agent/mash-agent and cli/mashctl
#   --keep   keep the temporary folder (configs and logs) for a look afterwards
# shellcheck disable=SC2119  # hub_* functions take optional arguments, not the script's
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init demo "${1:?usage: scripts/demo.sh BIN_DIR [--keep]}" " (./mash demo does)"
keep=${2:-}
mashctl=$hub_mashctl

hub_make_workdir demo
work=$hub_work
cleanup() {
  local rc=$?
  hub_kill_all
  if [ "$keep" = "--keep" ]; then echo "demo: files kept in $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

step "Making a development PKI and keys in $work"
hub_make_keys

step "DPOs test, sign and publish the sharing agreement and each agency's disclosure policy"
hub_publish_policies
echo "hub CA pin: $hub_ca_pin"

hub_write_broker_config
hub_check_broker_config

step "Starting mash-broker"
hub_start_broker
hub_wait_broker_ready
echo "broker: agents on wss://localhost:$hub_agent_port/agent/v1, API on https://localhost:$hub_api_port"

step "Starting six agents"
hub_start_agents

hub_mashctl_env
online=yes
hub_wait_agents_online || online=
"$mashctl" agency list
[ -n "$online" ] || { echo "demo: not every agent connected" >&2; tail -n 5 "$work"/logs/*.log >&2; exit 1; }

step "Raising a check: Amelia Jones (synthetic), red, consent not sought (child at risk of significant harm)"
cat > "$work/request.json" <<'JSON'
{
  "subject": {"given_names": "Amelia", "family_name": "Jones", "dob": "2015-03-09", "sex": "female",
              "postcodes": ["LS6 2AB"],
              "identifiers": {"nhs_number": "943 476 5919", "upn": "H801200001001"}},
  "household": [
    {"given_names": "Sarah", "family_name": "Jones", "dob": "1990-07-21", "identifiers": {"nhs_number": "9434765870"}},
    {"given_names": "Daniel", "family_name": "Price", "dob": "1988-01-30", "identifiers": {"pnc_id": "19/123456X"}}
  ],
  "purpose": "child-protection-s47",
  "lawful_basis": "uk-gdpr-6-1-e",
  "consent": {"state": "not_sought", "override_ground": "child_significant_harm",
              "justification": "Seeking consent would alert the alleged perpetrator and place the child at increased risk."},
  "urgency": "red",
  "level": 2,
  "agencies": ["police", "social-care", "health", "education", "probation", "housing"]
}
JSON
check_id=$("$mashctl" check raise --from-file "$work/request.json")
"$mashctl" check show "$check_id"

step "A MASH manager (a second person) authorises the override; only now do the queries go out"
start_ns=$(date +%s%N)
MASH_TOKEN_FILE="$work/keys/manager.token" "$mashctl" check authorise "$check_id" \
  --decision authorise --reason "Strategy discussion needed today; consent would alert the alleged perpetrator." >/dev/null
"$mashctl" check show "$check_id" --wait 30
end_ns=$(date +%s%N)
echo
echo "demo: check answered by all six agencies in $(( (end_ns - start_ns) / 1000000 )) ms from authorisation (mashctl included)"

step "The police custodian reviews what police policy routes to a person (mash-agent review)"
police_cfg="$work/agent-police.toml"
"$hub_agent_bin" review list --config "$police_cfg"
item=$("$hub_agent_bin" review list --config "$police_cfg" | awk 'NR == 2 {print $1}')
[ -n "$item" ] || { echo "demo: police has no review item" >&2; exit 1; }
"$hub_agent_bin" review show "$item" --config "$police_cfg"
"$hub_agent_bin" review decline "$item" --category intelligence --by demo.custodian \
  --reason "Live operation: disclosure now would prejudice it; ask the DI on duty." --config "$police_cfg"
"$hub_agent_bin" review release "$item" --by demo.custodian --config "$police_cfg"
reviewed=
for _ in $(seq 1 100); do
  if "$mashctl" check show "$check_id" --json |
    python3 -c 'import json, sys; sys.exit(1 if "police" in json.load(sys.stdin).get("awaiting_agency_review", []) else 0)'; then
    reviewed=yes
    break
  fi
  sleep 0.1
done
[ -n "$reviewed" ] || { echo "demo: the custodian's answer did not arrive" >&2; exit 1; }
"$mashctl" check show "$check_id"

step "Agency IT at the police: status, a connection test and the disclosure log of this check"
"$hub_agent_bin" status --config "$work/agent-police.toml"
"$hub_agent_bin" test-connection --config "$work/agent-police.toml"
"$hub_agent_bin" log --config "$work/agent-police.toml" --check "$check_id"

step "Stopping"
hub_stop_all || { echo "demo: a process exited with an error" >&2; exit 1; }
if grep -h '"level":"error"' "$work"/logs/*.log; then echo "demo: errors were logged" >&2; exit 1; fi
if grep -h '"event":"audit.alarm"' "$work"/logs/*.log; then echo "demo: an agent raised an audit alarm" >&2; exit 1; fi
receipts=$(grep -h '"event":"receipt.accepted"' "$work"/logs/agent-*.log | wc -l || true)
echo "demo: all processes stopped cleanly; the agents accepted $receipts audit receipts"

step "The IG officer verifies the audit trail offline and reports on the subject"
"$mashctl" audit verify --db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key" \
  --public-key "$work/keys/hub.audit.sign.pub" --checkpoint "$work/data/audit-anchor.txt"
"$mashctl" audit subject --db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key" \
  --pseudonym-key "$work/keys/hub.pseudonym.key" --kind nhs_number --value "943 476 5919"
