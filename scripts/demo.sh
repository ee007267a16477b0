#!/usr/bin/env bash
# The MASH Exchange demo: one agency check from the hub to six agencies and back, for real, by
# the people who would do it.
#
# Makes a development PKI and every key in a temporary folder; signs and publishes the hub's
# sharing agreement and each agency's disclosure policy (examples/policies) as its DPO would;
# starts mash-broker with one bootstrap token, a hub admin's (demo.admin); generates synthetic
# records for 300 families (mash-synth: typos, nicknames, old addresses, strangers with the same
# name) and imports each agency's share into its agent's SQLCipher record store; starts six
# mash-agent processes (police, children's social care, health, education, probation, housing) on
# loopback, which match subjects with the real matcher. Then, with mashctl only:
#   - the admin adds three staff accounts (mashctl user add): a practitioner and a manager of the
#     team north-mash and an IG officer; each turns the one-time password into a password of
#     their own (random, in a 0600 file, never printed) and a personal token (mashctl user token);
#   - the practitioner picks a child held by several agencies and raises a red check that shares
#     without consent (override ground and justification) with all six agencies;
#   - the manager sees it awaiting authorisation (check list) and authorises it (check authorise);
#   - the practitioner reads each agency's answer (check show): what was shared, redacted,
#     withheld by policy and why, and what waits for a custodian, and how long it took;
#   - the police custodian reviews and releases what police policy routes to a person
#     (mash-agent review) and the check shows the follow-up;
#   - the IG officer sees the override's alert (audit alerts) and acknowledges it;
#   - the practitioner records the MASH decision (check decide) and the check is closed.
# Then it stops everything, verifies the audit trail offline and prints the subject's disclosure
# history, as an IG officer would, and removes the folder. Every step's outcome is checked (from
# mashctl's JSON): the demo stops with "demo: FAILED: …" and exit 1 when one is not as expected.
#
# Usage: scripts/demo.sh BIN_DIR [--keep] [--serve]
#   BIN_DIR  the build folder holding broker/mash-broker, agent/mash-agent and cli/mashctl
#   --keep   keep the temporary folder (configs and logs) for a look afterwards
#   --serve  once the check is closed, keep the hub running for the web console: print its URL
#            and the staff logins (random passwords, kept in 0600 files in the folder), add a DPO
#            and an admin account, and wait for Ctrl-C; then stop and verify as usual
# shellcheck disable=SC2119  # hub_* functions take optional arguments, not the script's
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init demo "${1:?usage: scripts/demo.sh BIN_DIR [--keep] [--serve]}" " (./mash demo does)"
keep= serve=
for arg in "${@:2}"; do
  case "$arg" in
    --keep) keep=--keep ;;
    --serve) serve=yes ;;
    *) echo "demo: unknown option '$arg' (usage: scripts/demo.sh BIN_DIR [--keep] [--serve])" >&2; exit 2 ;;
  esac
done
# Serving the console: the staff keep their (random) passwords, in 0600 files, to log in with.
[ -n "$serve" ] && hub_keep_passwords=yes
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
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
# expect WHAT EXPR < JSON: fails with WHAT unless the Python expression EXPR holds, where `j` is
# the JSON read from stdin and `check` the check id.
expect() {
  python3 -c 'import json, sys
j = json.load(sys.stdin)
check = sys.argv[2]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" "${check_id:-}" || fail "$1"
}
# as USER mashctl ARGS...: runs mashctl with USER's personal token file.
as() {
  local user=$1
  shift
  MASH_TOKEN_FILE="$work/keys/$user.token" "$@"
}
started=$SECONDS

step "Making a development PKI and keys in $work"
hub_use_staff_accounts
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
[ -n "$online" ] || { tail -n 5 "$work"/logs/*.log >&2; fail "not every agent connected"; }

step "The hub admin (demo.admin, the only token in broker.toml) adds three staff accounts"
# Each person gets a one-time password in a 0600 file, chooses a password of their own (here a
# random one in a 0600 file) and turns both into a personal token with `mashctl user token`.
team=north-mash
practitioner=pat.practitioner
manager=mina.manager
ig=ian.ig
hub_add_staff "$practitioner" practitioner "$team" "Pat Practitioner"
hub_add_staff "$manager" manager "$team" "Mina Manager"
hub_add_staff "$ig" ig_officer ig "Ian IG"
"$mashctl" user list
users=$("$mashctl" user list --json) || fail "user list"
expect "the three staff accounts are not active with their roles" \
  'sorted((u["user"], u["role"], u.get("team")) for u in j["users"] if u["user"] != "demo.admin") == sorted([("pat.practitioner", "practitioner", "north-mash"), ("mina.manager", "manager", "north-mash"), ("ian.ig", "ig_officer", "ig")])' <<<"$users"
unset MASH_TOKEN_FILE  # from here on, every command names whose token it uses

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
# Health's records of children known to mental health services: the health policy releases that
# special category only under a special-category lawful basis, so this check will see it withheld.
with open(f"{synth}/health/records.csv", newline="") as f:
    camhs = {truth[row["record_id"]] for row in csv.DictReader(f) if row["category"] == "mental_health"}
def child(p):
    return p["dob"] >= "2010" and p["nhs_number"] and p["postcodes"]
candidates = [person for person, p in health.items()
              if child(p) and "police" in held_by[person] and person in camhs]
if not candidates:
    sys.exit("demo: no child in the generated data is known to police and to mental health services")
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

step "The practitioner ($practitioner) raises a check about that child: red, consent not sought (child at risk of significant harm)"
check_id=$(as "$practitioner" "$mashctl" check raise --from-file "$work/request.json") || fail "check raise"
as "$practitioner" "$mashctl" check show "$check_id"
shown=$(as "$practitioner" "$mashctl" check show "$check_id" --json) || fail "check show"
expect "the check does not await a manager's authorisation" \
  'j["state"] == "awaiting_authorisation" and j["team"] == "north-mash" and j["raised_by"] == "pat.practitioner" and j["override"]["ground"] == "child_significant_harm" and len(j["agencies"]) == 6' <<<"$shown"

step "The manager ($manager) sees it waiting in the team's list and authorises the override; only now do the queries go out"
as "$manager" "$mashctl" check list --state awaiting_authorisation
listed=$(as "$manager" "$mashctl" check list --state awaiting_authorisation --json) || fail "check list"
expect "the manager's list does not show the check awaiting authorisation" \
  'any(c["id"] == check and c["override"] for c in j["checks"])' <<<"$listed"
start_ns=$(date +%s%N)
as "$manager" "$mashctl" check authorise "$check_id" --decision authorise \
  --reason "Strategy discussion needed today; consent would alert the alleged perpetrator." >/dev/null ||
  fail "check authorise"
# `check show --wait` stops once no agency is still to answer; a part whose custodian review was
# announced can show awaiting_agency_review a moment before its answer is recorded, so the demo
# polls until each of the six answers is in.
answered=
for _ in $(seq 1 300); do
  shown=$(as "$practitioner" "$mashctl" check show "$check_id" --wait 30 --json) ||
    fail "the agencies did not all answer within 30 s"
  if python3 -c 'import json, sys; sys.exit(0 if all("answer" in a for a in json.load(sys.stdin)["agencies"]) else 1)' <<<"$shown"; then
    answered=yes
    break
  fi
  sleep 0.1
done
end_ns=$(date +%s%N)
[ -n "$answered" ] || fail "the agencies' answers did not all arrive"
as "$practitioner" "$mashctl" check show "$check_id"
echo
echo "demo: check answered by all six agencies in $(( (end_ns - start_ns) / 1000000 )) ms from authorisation (mashctl included)"
expect "the override was not authorised by the manager" \
  'j["authorisation"]["decision"] == "authorised" and j["authorisation"]["by"] == "mina.manager"' <<<"$shown"
expect "not every agency answered" \
  'all(a["state"] in ("answered", "awaiting_agency_review") and "answer" in a for a in j["agencies"])' <<<"$shown"

step "What the answer holds: a category withheld by an agency's policy, and one routed to a custodian"
printf '%s\n' "$shown" > "$work/check.json"
python3 - "$work/check.json" <<'PY' || fail "the answer shows no category withheld by policy, or none routed to the police custodian"
import json, sys
j = json.load(open(sys.argv[1]))
withheld = [(a, c) for a in j["agencies"] for c in a["answer"]["categories"] if c["outcome"] == "withheld"]
review = [a for a in j["agencies"] if a.get("review")]
if not withheld or not review or "police" not in j["awaiting_agency_review"]:
    sys.exit(1)
for a, c in withheld:
    print(f"demo: withheld by policy: {a['name']} withheld {c['name']} ({c['category']})")
    print(f"      why: {c['why']}")
for a in review:
    print(f"demo: routed to a custodian: {a['name']} holds back {', '.join(a['review']['categories'])} "
          f"for its custodian (state {a['state']}); the rest of its answer is above")
PY

step "The police custodian reviews what police policy routes to a person (mash-agent review)"
police_cfg="$work/agent-police.toml"
"$hub_agent_bin" review list --config "$police_cfg"
item=$("$hub_agent_bin" review list --config "$police_cfg" | awk 'NR == 2 {print $1}')
[ -n "$item" ] || fail "police has no review item"
"$hub_agent_bin" review show "$item" --config "$police_cfg"
"$hub_agent_bin" review release "$item" --by demo.custodian --config "$police_cfg"
reviewed=
for _ in $(seq 1 100); do
  shown=$(as "$practitioner" "$mashctl" check show "$check_id" --json) || fail "check show"
  if python3 -c 'import json, sys; sys.exit(1 if "police" in json.load(sys.stdin).get("awaiting_agency_review", []) else 0)' <<<"$shown"; then
    reviewed=yes
    break
  fi
  sleep 0.1
done
[ -n "$reviewed" ] || fail "the custodian's answer did not arrive"
as "$practitioner" "$mashctl" check show "$check_id"
expect "the police answer does not hold the custodian's release" \
  '[a for a in j["agencies"] if a["agency"] == "police" and a["state"] == "answered" and not a.get("review") and all(c["outcome"] != "review" for c in a["answer"]["categories"])]' <<<"$shown"

step "The IG officer ($ig) works the alert the override raised"
as "$ig" "$mashctl" audit alerts
alerts=$(as "$ig" "$mashctl" audit alerts --json) || fail "audit alerts"
expect "no new override alert for the check" \
  'any(a.get("check") == check and a["kind"] == "override" and a["status"] == "new" for a in j["alerts"])' <<<"$alerts"
as "$ig" "$mashctl" audit acknowledge "$check_id" \
  --note "Reviewed: ground and justification recorded, authorised by a manager of the team" ||
  fail "audit acknowledge"
alerts=$(as "$ig" "$mashctl" audit alerts --all --json) || fail "audit alerts --all"
expect "the alert is not closed by the IG officer" \
  'any(a.get("check") == check and a["kind"] == "override" and a["status"] == "closed" and a["history"][-1]["by"] == "ian.ig" for a in j["alerts"])' <<<"$alerts"
alerts=$(as "$ig" "$mashctl" audit alerts --json) || fail "audit alerts"
expect "the closed alert is still listed as open" \
  'not any(a.get("check") == check and a["kind"] == "override" for a in j["alerts"])' <<<"$alerts"

step "The practitioner records the MASH decision; the check is closed"
as "$practitioner" "$mashctl" check decide "$check_id" --outcome strategy_discussion \
  --rationale "Missing episodes known to police and concerns across agencies; strategy discussion with police and social care today." ||
  fail "check decide"
shown=$(as "$practitioner" "$mashctl" check show "$check_id" --json) || fail "check show"
expect "the check is not closed with the decision" \
  'j["state"] == "closed" and j["decision"]["outcome"] == "strategy_discussion" and j["decision"]["by"] == "pat.practitioner"' <<<"$shown"
as "$manager" "$mashctl" check list --state closed
listed=$(as "$manager" "$mashctl" check list --state closed --json) || fail "check list"
expect "the manager's list does not show the check closed" \
  'any(c["id"] == check and c["outcome"] == "strategy_discussion" for c in j["checks"])' <<<"$listed"

step "Agency IT at the police: status, a connection test and the disclosure log of this check"
"$hub_agent_bin" status --config "$work/agent-police.toml"
"$hub_agent_bin" test-connection --config "$work/agent-police.toml"
"$hub_agent_bin" log --config "$work/agent-police.toml" --check "$check_id"

if [ -n "$serve" ]; then
  step "The web console is at https://127.0.0.1:$hub_api_port/ (Ctrl-C stops the hub and ends the demo)"
  hub_add_staff dee.dpo dpo ig "Dee DPO" >/dev/null
  hub_add_staff ada.admin admin hub "Ada Admin" >/dev/null
  echo "The broker's certificate is signed by the demo's own CA, $work/pki/root-ca.pem: trust it in"
  echo "the browser for this session, or accept the warning (127.0.0.1 only). Staff logins:"
  for u in "$practitioner" "$manager" "$ig" dee.dpo ada.admin; do
    printf '  %-18s %s\n' "$u" "$(cat "$work/staff/$u.pw")"
  done
  # Ctrl-C reaches only this script's foreground sleep (the broker and agents, started in the
  # background by a script, ignore SIGINT): it ends the wait, and the demo goes on to stop.
  served=
  trap 'served=yes' INT
  while [ -z "$served" ]; do sleep 1 || true; done
  trap cleanup INT
  echo
fi

step "Stopping"
hub_stop_all || fail "a process exited with an error"
if grep -h '"level":"error"' "$work"/logs/*.log; then fail "errors were logged"; fi
if grep -h '"event":"audit.alarm"' "$work"/logs/*.log; then fail "an agent raised an audit alarm"; fi
receipts=$(cat "$work"/logs/agent-*.log | grep -c '"event":"receipt.accepted"' || true)
[ "$receipts" -gt 0 ] || fail "the agents accepted no audit receipts"
echo "demo: every process exited without an error; the agents accepted $receipts audit receipts"

step "The IG officer verifies the audit trail offline and reports on the subject"
"$mashctl" audit verify --db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key" \
  --public-key "$work/keys/hub.audit.sign.pub" --checkpoint "$work/data/audit-anchor.txt" ||
  fail "the audit trail does not verify"
"$mashctl" audit subject --db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key" \
  --pseudonym-key "$work/keys/hub.pseudonym.key" --kind nhs_number --value "$subject_nhs" ||
  fail "audit subject"
history=$("$mashctl" audit subject --db "$work/data/hub-audit.db" --db-key "$work/keys/hub.audit.db.key" \
  --pseudonym-key "$work/keys/hub.pseudonym.key" --kind nhs_number --value "$subject_nhs" --json) ||
  fail "audit subject --json"
python3 -c '
import json, sys
types = {json.loads(line)["type"] for line in sys.stdin if line.strip()}
want = {"check_raised", "check_authorised", "query_sent", "answer_received", "category_withheld",
        "alert_acknowledged", "mash_decision_recorded"}
missing = want - types
if missing:
    sys.exit("the subject history misses " + ", ".join(sorted(missing)))
' <<<"$history" || fail "the subject's disclosure history is incomplete"

echo
echo "demo: every step as expected (authorised, answered, custodian release, alert acknowledged, decision recorded, audit verified) in $((SECONDS - started)) s; all processes stopped cleanly"
