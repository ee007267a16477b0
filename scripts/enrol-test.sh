#!/usr/bin/env bash
# Enrolment with the real processes (issue 5): a hub admin adds the police agency with
# `mashctl agency add`, the agency enrols with `mash-agent enrol`, fills in records and policy,
# runs the agent, which comes online and answers a check; then `mash-agent renew` renews its
# certificate and the restarted agent connects with it. Exits 0 and prints "enrol test passed".
#
# Usage: scripts/enrol-test.sh BIN_DIR
# shellcheck disable=SC2119
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init enrol-test "${1:?usage: scripts/enrol-test.sh BIN_DIR}"
mashctl=$hub_mashctl
hub_make_workdir enrol-test
work=$hub_work
hub_trap_cleanup
fail() { echo "enrol-test: $*" >&2; exit 1; }

hub_make_keys
hub_publish_policies
# Police is not in broker.toml: it enrols. The others are listed as before.
hub_agencies=(health)
hub_write_broker_config
admin_hash=$("$mashctl" pki token --out "$work/keys/admin.token")
cat >> "$work/broker.toml" <<TOML

[[api_token]]
user = "ada.admin"
role = "admin"
sha256 = "$admin_hash"

[enrolment]
issuing_ca_cert = "$work/pki/issuing-ca.pem"
issuing_ca_key = "$work/pki/issuing-ca.key"
certificate_lifetime_days = 30
token_lifetime_minutes = 10
TOML
hub_check_broker_config
hub_start_broker
hub_wait_broker_ready
hub_mashctl_env

# The admin adds the agency; the token goes to a 0600 file, the pin and command are printed.
out=$(MASH_TOKEN_FILE="$work/keys/admin.token" "$mashctl" agency add --id police \
  --name "Police" --type police --out "$work/police.token" --agent-dir "$work/agent")
echo "$out"
[ "$(stat -c %a "$work/police.token")" = 600 ] || fail "token file is not 0600"
grep -q "CA pin: $hub_ca_pin" <<<"$out" || fail "agency add did not print the CA pin"
enrol_cmd=$(grep -E '^  mash-agent enrol ' <<<"$out" | sed 's/^  mash-agent //')
[ -n "$enrol_cmd" ] || fail "agency add did not print the enrol command"

# The agency runs the printed command (word splitting is intended: it is a command line).
# shellcheck disable=SC2086
"$hub_agent_bin" $enrol_cmd
[ ! -e "$work/police.token" ] || fail "the token file was not removed"
for k in agency-tls.key agency.sign.key agency.enc.key agent.db.key; do
  [ "$(stat -c %a "$work/agent/$k")" = 600 ] || fail "$k is not 0600"
done
cat >> "$work/agent/agent.toml" <<TOML

[records]
fixture = "$hub_root/examples/records/police.json"

[policy]
store = "$work/policy/police-disclosure"
trusted_keys = ["$work/keys/police-dpo.sign.pub"]
TOML
"$hub_agent_bin" check-config --config "$work/agent/agent.toml"
"$hub_agent_bin" run --config "$work/agent/agent.toml" > "$work/logs/agent-police.log" 2>&1 &
police_pid=$!
hub_pids+=("$police_pid")
hub_start_agent health
hub_agencies=(police health)
hub_wait_agents_online || fail "the enrolled agent did not come online"
"$mashctl" agency list

answered=$("$mashctl" check raise --nhs-number 9434765919 --family-name Jones --dob 2015-03-09 \
  --purpose child-protection-s47 --lawful-basis uk-gdpr-6-1-e --consent given \
  --evidence-ref "consent form CF-1" --urgency red --level 1 --agency police --wait 30 --json |
  grep -oE '"state": "answered"' | head -1 || true)
[ -n "$answered" ] || fail "the enrolled agency did not answer"

# Renewal by hand; the restarted agent connects with the new certificate.
before=$(sha256sum "$work/agent/agency.pem")
"$hub_agent_bin" renew --config "$work/agent/agent.toml"
[ "$(sha256sum "$work/agent/agency.pem")" != "$before" ] || fail "renew did not replace the certificate"
kill -TERM "$police_pid"
wait "$police_pid" || true
hub_forget_pid "$police_pid"
"$hub_agent_bin" run --config "$work/agent/agent.toml" > "$work/logs/agent-police-2.log" 2>&1 &
hub_pids+=($!)
sleep 0.5
hub_wait_agents_online || fail "the agent did not come back with its renewed certificate"
hub_stop_all || fail "a process exited with an error"
echo "enrol test passed"
