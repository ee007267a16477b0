#!/usr/bin/env bash
# The MASH Exchange demo: one agency check from the hub to six agencies and back, for real.
#
# Makes a development PKI and every key in a temporary folder, starts mash-broker and six
# mash-agent processes (police, children's social care, health, education, probation, housing) on
# loopback, raises a check with mashctl, prints each agency's answer and how long it took, then
# stops everything and removes the folder.
#
# Usage: scripts/demo.sh BIN_DIR [--keep]
#   BIN_DIR  the build folder holding broker/mash-broker, agent/mash-agent and cli/mashctl
#   --keep   keep the temporary folder (configs and logs) for a look afterwards
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:?usage: scripts/demo.sh BIN_DIR [--keep]}" && pwd)
keep=${2:-}
broker_bin=$bin/broker/mash-broker
agent_bin=$bin/agent/mash-agent
mashctl=$bin/cli/mashctl
for b in "$broker_bin" "$agent_bin" "$mashctl"; do
  [ -x "$b" ] || { echo "demo: $b is missing; build first (./mash demo does)" >&2; exit 2; }
done

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/mash-demo.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$keep" = "--keep" ]; then echo "demo: files kept in $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

agencies=(police social-care health education probation housing)
declare -A names=([police]="Police" [social-care]="Children's social care" [health]="Health"
                  [education]="Education" [probation]="Probation" [housing]="Housing")

step() { printf '\n== %s\n' "$*"; }

step "Making a development PKI and keys in $work"
"$here/certs/make-dev-pki.sh" init "$work/pki" "${agencies[@]}"
mkdir -p "$work/keys" "$work/data" "$work/logs"
"$mashctl" pki keygen --dir "$work/keys" --name hub >/dev/null
"$mashctl" pki secret --kind database --out "$work/keys/hub.db.key" >/dev/null
for a in "${agencies[@]}"; do
  "$mashctl" pki keygen --dir "$work/keys" --name "$a" >/dev/null
  "$mashctl" pki secret --kind database --out "$work/keys/$a.db.key" >/dev/null
done
token_hash=$("$mashctl" pki token --out "$work/keys/practitioner.token")
ca_pin=$(cat "$work/pki/ca-pin.txt")
echo "hub CA pin: $ca_pin"

{
  cat <<TOML
[hub]
id = "hub"

[log]
level = "info"

[agents]
listen_address = "127.0.0.1"
listen_port = 0

[api]
listen_address = "127.0.0.1"
listen_port = 0

[tls]
ca = "$work/pki/root-ca.pem"
crls = ["$work/pki/root.crl.pem", "$work/pki/issuing.crl.pem"]
cert = "$work/pki/broker.pem"
key = "$work/pki/broker.key"

[keys]
sign = "$work/keys/hub.sign.key"
enc = "$work/keys/hub.enc.key"

[storage]
database = "$work/data/hub.db"
key = "$work/keys/hub.db.key"

[[api_token]]
user = "demo.practitioner"
role = "practitioner"
sha256 = "$token_hash"
TOML
  for a in "${agencies[@]}"; do
    cat <<TOML

[[agency]]
id = "$a"
name = "${names[$a]}"
type = "$a"
sign_public_key = "$work/keys/$a.sign.pub"
enc_public_key = "$work/keys/$a.enc.pub"
TOML
  done
} > "$work/broker.toml"
"$broker_bin" check-config --config "$work/broker.toml"

step "Starting mash-broker"
"$broker_bin" run --config "$work/broker.toml" > "$work/logs/broker.log" 2>&1 &
pids+=($!)
agent_port= api_port=
for _ in $(seq 1 100); do
  line=$(grep -m1 '"event":"broker.ready"' "$work/logs/broker.log" 2>/dev/null || true)
  if [ -n "$line" ]; then
    agent_port=$(sed -E 's/.*"agent_port":([0-9]+).*/\1/' <<<"$line")
    api_port=$(sed -E 's/.*"api_port":([0-9]+).*/\1/' <<<"$line")
    break
  fi
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/logs/broker.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$agent_port" ] || { echo "demo: broker did not start" >&2; cat "$work/logs/broker.log" >&2; exit 1; }
echo "broker: agents on wss://localhost:$agent_port/agent/v1, API on https://localhost:$api_port"

step "Starting six agents"
for a in "${agencies[@]}"; do
  cat > "$work/agent-$a.toml" <<TOML
[agency]
id = "$a"
name = "${names[$a]}"
type = "$a"

[log]
level = "info"

[broker]
url = "wss://localhost:$agent_port/agent/v1"
hub_id = "hub"
sign_public_key = "$work/keys/hub.sign.pub"
enc_public_key = "$work/keys/hub.enc.pub"

[tls]
ca = "$work/pki/root-ca.pem"
crls = ["$work/pki/root.crl.pem", "$work/pki/issuing.crl.pem"]
cert = "$work/pki/agency-$a.pem"
key = "$work/pki/agency-$a.key"
ca_pin = "$ca_pin"

[keys]
sign = "$work/keys/$a.sign.key"
enc = "$work/keys/$a.enc.key"

[storage]
database = "$work/data/$a.db"
key = "$work/keys/$a.db.key"

[records]
fixture = "$here/examples/records/$a.json"

[connection]
backoff_initial_ms = 200
backoff_max_ms = 2000
TOML
  "$agent_bin" check-config --config "$work/agent-$a.toml" >/dev/null
  "$agent_bin" run --config "$work/agent-$a.toml" > "$work/logs/agent-$a.log" 2>&1 &
  pids+=($!)
done

export MASH_BROKER="https://localhost:$api_port"
export MASH_CA="$work/pki/root-ca.pem"
export MASH_CRLS="$work/pki/root.crl.pem:$work/pki/issuing.crl.pem"
export MASH_TOKEN_FILE="$work/keys/practitioner.token"
online=0
for _ in $(seq 1 150); do
  online=$("$mashctl" agency list --json 2>/dev/null | grep -oE '"online": ?true' | wc -l || true)
  [ "$online" -ge "${#agencies[@]}" ] && break
  sleep 0.1
done
"$mashctl" agency list
[ "$online" -ge "${#agencies[@]}" ] || { echo "demo: not every agent connected" >&2; tail -n 5 "$work"/logs/*.log >&2; exit 1; }

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
start_ns=$(date +%s%N)
"$mashctl" check raise --from-file "$work/request.json" --wait 30
end_ns=$(date +%s%N)
echo
echo "demo: check answered by all six agencies in $(( (end_ns - start_ns) / 1000000 )) ms end to end (mashctl included)"

step "Stopping"
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" || { echo "demo: a process exited with an error" >&2; exit 1; }; done
pids=()
if grep -h '"level":"error"' "$work"/logs/*.log; then echo "demo: errors were logged" >&2; exit 1; fi
echo "demo: all processes stopped cleanly"
