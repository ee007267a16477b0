#!/usr/bin/env bash
# The MASH Exchange demo: one agency check from the hub to six agencies and back, for real.
#
# Makes a development PKI and every key in a temporary folder; signs and publishes the hub's
# sharing agreement and each agency's disclosure policy (examples/policies) as its DPO would;
# starts mash-broker; generates synthetic records for 300 families (mash-synth: typos, nicknames,
# old addresses, strangers with the same name) and imports each agency's share into its agent's
# SQLCipher record store; starts six mash-agent processes (police, children's social care, health,
# education, probation, housing) on loopback, which match subjects with the real matcher; picks a
# child held by several agencies and raises a red check that shares without consent,
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

step "Generating synthetic records for six agencies and importing them into each agent's encrypted store"
hub_make_synthetic 300

step "Starting six agents"
hub_start_agents

hub_mashctl_env
online=yes
hub_wait_agents_online || online=
"$mashctl" agency list
[ -n "$online" ] || { echo "demo: not every agent connected" >&2; tail -n 5 "$work"/logs/*.log >&2; exit 1; }

# The subject: a child known to health (with an NHS number), the police and most other agencies
# in the generated data, as the MASH would have them from the referral. The other agencies hold
# their own imperfect copies (typos, nicknames, old addresses), which the matcher must find.
python3 - "$work/synth" "$work/request.json" <<'PY'
import collections, csv, json, sys
synth, out = sys.argv[1], sys.argv[2]
truth = json.load(open(f"{synth}/truth.json"))["records"]
people = {}
for agency in ("police", "social-care", "health", "education", "probation", "housing"):
    with open(f"{synth}/{agency}/people.csv", newline="") as f:
        for row in csv.DictReader(f):
            people[row["record_id"]] = row
held_by = collections.defaultdict(set)
for record, person in truth.items():
    held_by[person].add(record.split("/")[0])
health = {truth[r]: p for r, p in people.items() if r.startswith("health/")}
def child(p):
    return p["dob"] >= "2010" and p["nhs_number"] and p["postcodes"]
candidates = [person for person, p in health.items()
              if child(p) and "police" in held_by[person] and "social-care" in held_by[person]]
person = max(sorted(candidates), key=lambda c: len(held_by[c]))
s = health[person]
postcode = s["postcodes"].split(";")[0]
household = [p for r, p in people.items() if r.startswith("health/") and truth[r] != person
             and p["family_name"] == s["family_name"] and postcode in p["postcodes"].split(";")]
def subject(p):
    d = {"given_names": p["given_names"], "family_name": p["family_name"],
         "postcodes": [x for x in p["postcodes"].split(";") if x][:1]}
    if p["dob"]: d["dob"] = p["dob"]
    if p["sex"]: d["sex"] = p["sex"]
    if p["nhs_number"]: d["identifiers"] = {"nhs_number": p["nhs_number"]}
    return d
request = {
    "subject": subject(s),
    "household": [subject(p) for p in household[:3]],
    "purpose": "child-protection-s47",
    "lawful_basis": "uk-gdpr-6-1-e",
    "consent": {"state": "not_sought", "override_ground": "child_significant_harm",
                "justification": "Seeking consent would alert the alleged perpetrator and place the child at increased risk."},
    "urgency": "red",
    "level": 2,
    "agencies": ["police", "social-care", "health", "education", "probation", "housing"],
}
json.dump(request, open(out, "w"), indent=2)
print(f"subject: {s['given_names']} {s['family_name']}, born {s['dob']}, NHS {s['nhs_number']} "
      f"(synthetic); the generated truth says {len(held_by[person])} agencies hold records of "
      f"this child: {', '.join(sorted(held_by[person]))}; {len(request['household'])} household "
      f"member(s) in the request")
open(out + ".nhs", "w").write(s["nhs_number"])
PY
subject_nhs=$(cat "$work/request.json.nhs")

step "Raising a check about that child: red, consent not sought (child at risk of significant harm)"
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
  --pseudonym-key "$work/keys/hub.pseudonym.key" --kind nhs_number --value "$subject_nhs"
