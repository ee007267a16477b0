# shellcheck shell=bash
# A MASH hub on loopback for the scripts (demo.sh, crash-test.sh): a development PKI, every key,
# signed policies in policy stores, broker.toml and one agent.toml per agency, and the broker and
# agent processes. Sourced, not run; the caller sets `set -euo pipefail` and its own traps.
#
#   source "$here/scripts/lib/hub.sh"
#   hub_init demo BIN_DIR [HINT]    binaries, names; exits 2 when one is missing
#   hub_make_workdir demo           hub_work: a new 0700 temporary folder (umask 077)
#   hub_use_staff_accounts          before hub_make_keys: broker.toml holds only an admin's token
#                                   (demo.admin); staff come from hub_add_staff (the demo does this)
#   hub_make_keys                   PKI, keys, tokens: hub_ca_pin and either hub_admin_hash (staff
#                                   accounts) or hub_token_hash and hub_manager_hash (service tokens
#                                   demo.practitioner and demo.manager, for the other scripts)
#   hub_publish_policies            test, sign and publish the agreement and every disclosure policy
#   hub_write_broker_config [AGENT_PORT API_PORT]   hub_work/broker.toml (ports default 0: any)
#   hub_check_broker_config         mash-broker check-config (prints its OK line)
#   hub_start_broker [LOG]          starts mash-broker: hub_broker_pid, also in hub_pids
#   hub_wait_broker_ready [LOG]     waits for broker.ready in LOG: hub_agent_port, hub_api_port,
#                                   hub_ops_port (the broker's loopback /healthz /readyz /metrics)
#   hub_agent_ops_port ID           the port of agent ID's ops listener (from its log), or nothing
#   hub_kill_broker [SIGNAL]        signals the broker (default KILL) and reaps it
#   hub_make_synthetic [FAMILIES]   generated records (mash-synth) imported into each agency's
#                                   SQLCipher record store; agents then answer from the store
#                                   with the matcher instead of examples/records (hub_records)
#   hub_start_agents                writes agent-ID.toml, checks it and starts each agent
#   hub_mashctl_env                 exports MASH_BROKER, MASH_CA, MASH_CRLS, MASH_TOKEN_FILE (the
#                                   admin's token with staff accounts, else the practitioner's)
#   hub_add_staff USER ROLE TEAM NAME   as the admin, `mashctl user add`; then, as the new user,
#                                   `mashctl user token` with a new random password: the personal
#                                   token is hub_work/keys/USER.token (0600); passwords never printed
#                                   (with hub_keep_passwords=yes the password stays in
#                                   hub_work/staff/USER.pw, 0600, for a browser login)
#   hub_write_request FILE EVIDENCE_REF GIVEN FAMILY DOB IDENTIFIERS_JSON
#                                   a consented s47 request (mashctl check raise --from-file) to
#                                   all six agencies, amber, level 2, about the subject given
#   hub_wait_agents_online [TRIES]  polls `agency list` every 0.1 s: 0 once all are online
#   hub_stop_all                    SIGTERM to every process, then waits: 1 if one failed
#   hub_kill_all                    the same for traps: ignores errors
#   hub_trap_cleanup                traps EXIT INT TERM: hub_kill_all, the last 5 lines of each log
#                                   on failure, removes hub_work, exits with the status
#
# Everything lives in hub_work: pki/, keys/, policy/, data/, logs/ (broker.log, agent-ID.log),
# synth/ (generated records and truth.json), broker.toml and agent-ID.toml. Error messages start with "$hub_prog: ".

hub_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
hub_agencies=(police social-care health education probation housing)
declare -A hub_names=([police]="Police" [social-care]="Children's social care" [health]="Health"
                      [education]="Education" [probation]="Probation" [housing]="Housing")
hub_pids=()
hub_accounts=service  # service: [[api_token]] practitioner and manager; staff: admin + accounts
hub_records=fixture  # fixture: examples/records/ID.json; store: hub_make_synthetic's stores
hub_broker_pid=
hub_agent_port=
hub_api_port=
hub_ops_port=

hub_init() {  # hub_init PROG BIN_DIR [HINT]
  hub_prog=$1
  hub_bin=$(cd "$2" && pwd)
  hub_broker_bin=$hub_bin/broker/mash-broker
  hub_agent_bin=$hub_bin/agent/mash-agent
  hub_mashctl=$hub_bin/cli/mashctl
  hub_synth_bin=$hub_bin/agent/mash-synth
  local b
  for b in "$hub_broker_bin" "$hub_agent_bin" "$hub_mashctl" "$hub_synth_bin"; do
    [ -x "$b" ] || { echo "$hub_prog: $b is missing; build first${3:-}" >&2; exit 2; }
  done
}

hub_use_staff_accounts() {
  hub_accounts=staff
}

hub_make_workdir() {  # hub_make_workdir NAME
  umask 077
  hub_work=$(mktemp -d "${TMPDIR:-/tmp}/mash-$1.XXXXXX")
}

hub_make_keys() {
  local m=$hub_mashctl w=$hub_work a
  "$hub_root/certs/make-dev-pki.sh" init "$w/pki" "${hub_agencies[@]}"
  mkdir -p "$w/keys" "$w/data" "$w/logs"
  "$m" pki keygen --dir "$w/keys" --name hub >/dev/null
  "$m" pki secret --kind database --out "$w/keys/hub.db.key" >/dev/null
  # The audit trail: its own database key, checkpoint signing key and subject-pseudonym key.
  "$m" pki keygen --dir "$w/keys" --name hub.audit >/dev/null
  "$m" pki secret --kind database --out "$w/keys/hub.audit.db.key" >/dev/null
  "$m" pki secret --kind pseudonym --out "$w/keys/hub.pseudonym.key" >/dev/null
  # DPO signing keys: the partnership's (hub agreement) and one per agency (its own policy).
  "$m" pki keygen --dir "$w/keys" --name hub-dpo >/dev/null
  for a in "${hub_agencies[@]}"; do
    "$m" pki keygen --dir "$w/keys" --name "$a" >/dev/null
    "$m" pki keygen --dir "$w/keys" --name "$a-dpo" >/dev/null
    "$m" pki secret --kind database --out "$w/keys/$a.db.key" >/dev/null
  done
  if [ "$hub_accounts" = staff ]; then
    hub_admin_hash=$("$m" pki token --out "$w/keys/demo.admin.token")
  else
    hub_token_hash=$("$m" pki token --out "$w/keys/practitioner.token")
    hub_manager_hash=$("$m" pki token --out "$w/keys/manager.token")
  fi
  hub_ca_pin=$(cat "$w/pki/ca-pin.txt")
}

hub_publish() {  # hub_publish NAME DPO_KEY_NAME: test, sign and publish examples/policies/NAME.toml
  local name=$1 dpo=$2 m=$hub_mashctl w=$hub_work
  "$m" policy test "$hub_root/examples/policies/$name.toml" >/dev/null
  "$m" policy sign "$hub_root/examples/policies/$name.toml" --key "$w/keys/$dpo.sign.key" \
    --out "$w/policy/$name.bundle.json" >/dev/null
  "$m" policy publish "$w/policy/$name.bundle.json" --store "$w/policy/$name" \
    --mode enforce --trusted-key "$w/keys/$dpo.sign.pub" >/dev/null
  echo "$name: tested, signed by $dpo, enforced ($("$m" policy history --store "$w/policy/$name" --json | grep -oE '"enforced": ?"sha256:[0-9a-f]{12}' | grep -oE 'sha256:[0-9a-f]+')…)"
}

hub_publish_policies() {
  local a
  mkdir -p "$hub_work/policy"
  hub_publish hub-agreement hub-dpo
  for a in "${hub_agencies[@]}"; do hub_publish "$a-disclosure" "$a-dpo"; done
}

hub_write_broker_config() {  # hub_write_broker_config [AGENT_PORT API_PORT]
  local w=$hub_work agent_port=${1:-0} api_port=${2:-0} a
  {
    cat <<TOML
[hub]
id = "hub"

[log]
level = "info"

[agents]
listen_address = "127.0.0.1"
listen_port = $agent_port

[api]
listen_address = "127.0.0.1"
listen_port = $api_port

[ops]
listen = "127.0.0.1:0"

[tls]
ca = "$w/pki/root-ca.pem"
crls = ["$w/pki/root.crl.pem", "$w/pki/issuing.crl.pem"]
cert = "$w/pki/broker.pem"
key = "$w/pki/broker.key"

[keys]
sign = "$w/keys/hub.sign.key"
enc = "$w/keys/hub.enc.key"

[storage]
database = "$w/data/hub.db"
key = "$w/keys/hub.db.key"

[audit]
database = "$w/data/hub-audit.db"
key = "$w/keys/hub.audit.db.key"
checkpoint_key = "$w/keys/hub.audit.sign.key"
pseudonym_key = "$w/keys/hub.pseudonym.key"
anchor_file = "$w/data/audit-anchor.txt"

[policy]
store = "$w/policy/hub-agreement"
trusted_keys = ["$w/keys/hub-dpo.sign.pub"]
TOML
    # The web console, when its assets are built (npm run build --prefix console).
    local assets
    assets="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/console/dist"
    if [ -f "$assets/console.css" ]; then
      printf '\n[console]\nenabled = true\nassets = "%s"\n' "$assets"
    fi
    hub_api_tokens_config
    for a in "${hub_agencies[@]}"; do
      cat <<TOML

[[agency]]
id = "$a"
name = "${hub_names[$a]}"
type = "$a"
sign_public_key = "$w/keys/$a.sign.pub"
enc_public_key = "$w/keys/$a.enc.pub"
TOML
    done
  } > "$w/broker.toml"
}

hub_api_tokens_config() {  # the [[api_token]] sections of broker.toml
  if [ "$hub_accounts" = staff ]; then
    cat <<TOML

[[api_token]]
user = "demo.admin"
role = "admin"
sha256 = "$hub_admin_hash"
TOML
  else
    cat <<TOML

[[api_token]]
user = "demo.practitioner"
role = "practitioner"
sha256 = "$hub_token_hash"
team = "mash"

[[api_token]]
user = "demo.manager"
role = "manager"
sha256 = "$hub_manager_hash"
team = "mash"
TOML
  fi
}

hub_check_broker_config() {
  "$hub_broker_bin" check-config --config "$hub_work/broker.toml"
}

hub_start_broker() {  # hub_start_broker [LOG]: its stdout and stderr go to LOG (default broker.log)
  local log=${1:-$hub_work/logs/broker.log}
  "$hub_broker_bin" run --config "$hub_work/broker.toml" > "$log" 2>&1 &
  hub_broker_pid=$!
  hub_pids+=("$hub_broker_pid")
}

hub_wait_broker_ready() {  # hub_wait_broker_ready [LOG]: exits 1 when the broker does not start
  local log=${1:-$hub_work/logs/broker.log} line
  hub_agent_port="" hub_api_port="" hub_ops_port=""
  for _ in $(seq 1 100); do
    line=$(grep -m1 '"event":"broker.ready"' "$log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      hub_agent_port=$(sed -E 's/.*"agent_port":([0-9]+).*/\1/' <<<"$line")
      hub_api_port=$(sed -E 's/.*"api_port":([0-9]+).*/\1/' <<<"$line")
      hub_ops_port=$(sed -E 's/.*"ops_port":([0-9]+).*/\1/' <<<"$line")
      break
    fi
    kill -0 "$hub_broker_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$hub_agent_port" ] || { echo "$hub_prog: broker did not start" >&2; cat "$log" >&2; exit 1; }
}

hub_agent_ops_port() {  # hub_agent_ops_port ID: prints the port agent ID's ops listener took
  grep -m1 '"event":"ops.listening"' "$hub_work/logs/agent-$1.log" 2>/dev/null |
    sed -E 's/.*"port":([0-9]+).*/\1/'
}

hub_forget_pid() {  # hub_forget_pid PID: drops PID from hub_pids
  local rest=() p
  for p in "${hub_pids[@]}"; do [ "$p" = "$1" ] || rest+=("$p"); done
  hub_pids=(${rest[@]+"${rest[@]}"})
}

hub_kill_broker() {  # hub_kill_broker [SIGNAL]: signals the broker and reaps it
  local pid=$hub_broker_pid
  kill "-${1:-KILL}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  hub_forget_pid "$pid"
  hub_broker_pid=
}

hub_write_agent_config() {  # hub_write_agent_config ID: hub_work/agent-ID.toml (needs hub_agent_port)
  local a=$1 w=$hub_work
  cat > "$w/agent-$a.toml" <<TOML
[agency]
id = "$a"
name = "${hub_names[$a]}"
type = "$a"

[log]
level = "info"

[ops]
listen = "127.0.0.1:0"

[broker]
url = "wss://localhost:$hub_agent_port/agent/v1"
hub_id = "hub"
sign_public_key = "$w/keys/hub.sign.pub"
enc_public_key = "$w/keys/hub.enc.pub"

[tls]
ca = "$w/pki/root-ca.pem"
crls = ["$w/pki/root.crl.pem", "$w/pki/issuing.crl.pem"]
cert = "$w/pki/agency-$a.pem"
key = "$w/pki/agency-$a.key"
ca_pin = "$hub_ca_pin"

[keys]
sign = "$w/keys/$a.sign.key"
enc = "$w/keys/$a.enc.key"

[storage]
database = "$w/data/$a.db"
key = "$w/keys/$a.db.key"

$(hub_records_config "$a")

[policy]
store = "$w/policy/$a-disclosure"
trusted_keys = ["$w/keys/$a-dpo.sign.pub"]

[audit]
log_public_key = "$w/keys/hub.audit.sign.pub"

[connection]
backoff_initial_ms = 200
backoff_max_ms = 2000
TOML
}

hub_records_config() {  # hub_records_config ID: the [records] section of agent-ID.toml
  local a=$1 w=$hub_work
  if [ "$hub_records" = store ]; then
    printf '[records]\nstore = "%s"\nstore_key = "%s"\nsource = "%s"\n' \
      "$w/data/$a.records.db" "$w/keys/$a.records.key" "${hub_names[$a]} records (synthetic)"
  else
    printf '[records]\nfixture = "%s"\n' "$hub_root/examples/records/$a.json"
  fi
}

hub_make_synthetic() {  # hub_make_synthetic [FAMILIES]: generated records in every agency's store
  local w=$hub_work a
  "$hub_synth_bin" --families "${1:-300}" --seed 20261122 --out "$w/synth" --import csv
  hub_records=store
  for a in "${hub_agencies[@]}"; do
    "$hub_mashctl" pki secret --kind database --out "$w/keys/$a.records.key" >/dev/null
    hub_write_agent_config "$a"
    printf '%-12s ' "$a:"
    "$hub_agent_bin" import --config "$w/agent-$a.toml" --people "$w/synth/$a/people.csv" \
      --records "$w/synth/$a/records.csv" --replace 2> "$w/logs/import-$a.log" ||
      { cat "$w/logs/import-$a.log" >&2; exit 1; }
  done
}

hub_start_agent() {  # hub_start_agent ID: checks its config and starts it (log: logs/agent-ID.log)
  local a=$1
  hub_write_agent_config "$a"
  "$hub_agent_bin" check-config --config "$hub_work/agent-$a.toml" >/dev/null
  "$hub_agent_bin" run --config "$hub_work/agent-$a.toml" > "$hub_work/logs/agent-$a.log" 2>&1 &
  hub_pids+=($!)
}

hub_start_agents() {
  local a
  for a in "${hub_agencies[@]}"; do hub_start_agent "$a"; done
}

hub_mashctl_env() {  # mashctl's connection settings, as the admin (staff) or the practitioner
  export MASH_BROKER="https://localhost:$hub_api_port"
  export MASH_CA="$hub_work/pki/root-ca.pem"
  export MASH_CRLS="$hub_work/pki/root.crl.pem:$hub_work/pki/issuing.crl.pem"
  if [ "$hub_accounts" = staff ]; then
    export MASH_TOKEN_FILE="$hub_work/keys/demo.admin.token"
  else
    export MASH_TOKEN_FILE="$hub_work/keys/practitioner.token"
  fi
}

hub_add_staff() {  # hub_add_staff USER ROLE TEAM NAME: an account and its personal token
  local user=$1 role=$2 team=$3 name=$4 w=$hub_work
  local otp=$w/staff/$user.otp pw=$w/staff/$user.pw
  mkdir -p "$w/staff"
  chmod 700 "$w/staff"
  # The admin adds the account; the one-time password goes to a new 0600 file, never the screen.
  "$hub_mashctl" user add --user "$user" --name "$name" --role "$role" --team "$team" \
    --out "$otp" --token-file "$w/keys/demo.admin.token"
  # The new user chooses a password (here a random one, written straight to a 0600 file) and
  # turns the one-time password into it and a personal token.
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$pw")
  chmod 600 "$pw"
  "$hub_mashctl" user token --user "$user" --password-file "$otp" --new-password-file "$pw" \
    --out "$w/keys/$user.token" --label "$hub_prog"
  [ "$(stat -c %a "$w/keys/$user.token")" = 600 ] ||
    { echo "$hub_prog: the token file of $user is not 0600" >&2; exit 1; }
  rm -f "$otp"
  [ "${hub_keep_passwords:-}" = yes ] || rm -f "$pw"
}

hub_write_request() {  # hub_write_request FILE EVIDENCE_REF GIVEN FAMILY DOB IDENTIFIERS_JSON
  cat > "$1" <<JSON
{
  "subject": {"given_names": "$3", "family_name": "$4", "dob": "$5", "identifiers": $6},
  "purpose": "child-protection-s47",
  "lawful_basis": "uk-gdpr-6-1-e",
  "consent": {"state": "given", "evidence_ref": "$2"},
  "urgency": "amber",
  "level": 2,
  "agencies": ["police", "social-care", "health", "education", "probation", "housing"]
}
JSON
}

hub_wait_agents_online() {  # hub_wait_agents_online [TRIES]: hub_online counts the agents online
  hub_online=0
  for _ in $(seq 1 "${1:-150}"); do
    hub_online=$("$hub_mashctl" agency list --json 2>/dev/null | grep -oE '"online": ?true' | wc -l || true)
    [ "$hub_online" -ge "${#hub_agencies[@]}" ] && return 0
    sleep 0.1
  done
  return 1
}

hub_stop_all() {  # SIGTERM to every process, then waits for each: 1 when one exits with an error
  local pid
  for pid in "${hub_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${hub_pids[@]}"; do wait "$pid" || return 1; done
  hub_pids=()
}

hub_kill_all() {  # for traps: as hub_stop_all, ignoring errors
  local pid
  for pid in "${hub_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${hub_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hub_pids=()
}

hub_cleanup() {  # the trap hub_trap_cleanup sets: keeps the exit status
  local rc=$?
  hub_kill_all
  if [ $rc -ne 0 ]; then tail -n 5 "$hub_work"/logs/*.log >&2 || true; fi
  rm -rf "$hub_work"
  exit $rc
}

hub_trap_cleanup() {  # after hub_make_workdir
  trap hub_cleanup EXIT INT TERM
}
