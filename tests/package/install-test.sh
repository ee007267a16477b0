#!/usr/bin/env bash
# The Debian packages, installed for real (issue 8): installs mash-broker, mash-agent and mashctl
# with apt-get, checks the users, folders, modes and units the packages promise, then follows
# README.md "Installing on servers" step by step to bring up a hub with one enrolled agent, with
# one difference: there is no systemd as PID 1 here, so each daemon runs straight as its system
# user with the ExecStartPre= and ExecStart= lines read from its installed unit. It raises a
# check, reads the agent's answer, stops both, purges the packages and checks that what is left
# is what docs/packages.md says (the state folders with their data, and the system users).
# Then it removes those too. Prints "install test passed".
#
# Usage: tests/package/install-test.sh --build-dir BUILD_DIR   package that build tree (CPack)
#        tests/package/install-test.sh --debs DIR              install the .debs in DIR
#
# It changes the machine: run it as root on a machine without these packages (a CI container).
# It exits 77 (skipped) when not root, or when any of the packages, their users or their folders
# are already there: it never touches an installation it did not make. Everything it made is
# removed on exit, also on failure.
set -euo pipefail
prog=install-test
fail() { echo "$prog: FAILED: $*" >&2; exit 1; }
skip() { echo "$prog: skipped: $*"; exit 77; }
start=$(date +%s)

mode=${1:-} src=${2:-}
case "$mode" in --build-dir|--debs) [ -n "$src" ] || fail "$mode needs a folder" ;;
  *) echo "usage: $0 --build-dir BUILD_DIR | --debs DIR" >&2; exit 2 ;; esac
src=$(cd "$src" && pwd)

packages=(mash-broker mash-agent mashctl)
users=(mash-broker mash-agent)
[ "$(id -u)" -eq 0 ] || skip "needs root (it installs packages and adds system users)"
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
    skip "package $p is already on this machine"
  fi
done
for u in "${users[@]}"; do
  getent passwd "$u" >/dev/null && skip "user $u already exists"
  [ -e "/var/lib/$u" ] && skip "/var/lib/$u already exists"
done
[ -e /etc/mash ] && skip "/etc/mash already exists"
for t in runuser setpriv apt-get curl python3; do
  command -v "$t" >/dev/null || fail "$t is missing"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mash-install-test.XXXXXX")
chmod 700 "$work"
pids=()
installed=no
cleanup() {
  local rc=$? pid
  for pid in ${pids[@]+"${pids[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then tail -n 20 "$work"/*.log >&2 2>/dev/null || true; fi
  if [ "$installed" = yes ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
  fi
  # Everything below was made by this test (it refused to start when any of it existed).
  rm -rf /var/lib/mash-broker /var/lib/mash-agent /var/log/mash-broker /var/log/mash-agent /etc/mash
  for u in "${users[@]}"; do
    if getent passwd "$u" >/dev/null; then deluser --system --quiet "$u" >/dev/null 2>&1 || true; fi
    if getent group "$u" >/dev/null; then delgroup --system --quiet "$u" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

# --- the packages ------------------------------------------------------------------------------
if [ "$mode" = --build-dir ]; then
  # The tree `./mash test` already built, packaged as `./mash package` packages the release tree
  # (gzip instead of xz: the same files, faster to make).
  cpack --config "$src/CPackConfig.cmake" -B "$work/debs" -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip \
    > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; fail "cpack"; }
  debs=$work/debs
else
  debs=$src
fi
deb_files=()
for p in "${packages[@]}"; do
  f=$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | sort | head -1)
  [ -n "$f" ] || fail "no ${p}_*.deb in $debs"
  deb_files+=("$f")
done
echo "$prog: packages: ${deb_files[*]##*/}"

# README step 1: install (the hub host takes mash-broker and mashctl, the agency host mash-agent
# and mashctl; here one machine is both).
installed=yes
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${deb_files[@]}" \
  > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get install"; }

# What docs/packages.md promises after installation.
for u in "${users[@]}"; do
  ent=$(getent passwd "$u") || fail "no user $u"
  [ "$(cut -d: -f7 <<<"$ent")" = /usr/sbin/nologin ] || fail "$u has a login shell"
  [ "$(cut -d: -f6 <<<"$ent")" = "/var/lib/$u" ] || fail "$u's home is not /var/lib/$u"
  [ "$(cut -d: -f3 <<<"$ent")" -lt 1000 ] || fail "$u is not a system user"
  [ "$(getent shadow "$u" | cut -d: -f2)" = '*' ] || [ "$(getent shadow "$u" | cut -d: -f2)" = '!' ] ||
    fail "$u has a password"
  [ "$(stat -c '%U:%G %a' "/var/lib/$u")" = "$u:$u 700" ] || fail "/var/lib/$u is not $u:$u 0700"
  [ "$(stat -c '%U:%G %a' "/var/log/$u")" = "$u:$u 750" ] || fail "/var/log/$u is not $u:$u 0750"
done
[ "$(stat -c '%U:%G %a' /etc/mash/broker.toml)" = "root:mash-broker 640" ] || fail "broker.toml mode"
[ "$(stat -c '%U:%G %a' /etc/mash/agent.toml)" = "root:mash-agent 640" ] || fail "agent.toml mode"
dpkg-query -W -f='${Conffiles}\n' mash-broker | grep -q '/etc/mash/broker.toml' ||
  fail "broker.toml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' mash-agent | grep -q '/etc/mash/agent.toml' ||
  fail "agent.toml is not a conffile"
for b in mash-broker mash-agent mash-synth mashctl; do [ -x "/usr/bin/$b" ] || fail "/usr/bin/$b"; done
[ -f /usr/share/mash-broker/console/console.css ] || fail "the console's assets are not installed"
for u in mash-broker mash-agent; do
  unit=/lib/systemd/system/$u.service
  [ -f "$unit" ] || fail "$unit is missing"
  if command -v systemd-analyze >/dev/null; then
    # verify prints nothing for a unit without problems; any remark fails the test.
    out=$(systemd-analyze verify "$unit" 2>&1) || out="${out:-exit status $?}"
    [ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify $u"; }
    score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
      sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p')
    echo "$prog: $u.service exposure $score (systemd-analyze security)"
    python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" ||
      fail "$u.service exposure $score is above 2.0"
  fi
done

# Runs a unit's ExecStartPre=/ExecStart= line as the unit's user, with its UMask=, as systemd would
# (minus the sandbox, which needs systemd as PID 1).
unit_line() { sed -nE "s/^$2=//p" "/lib/systemd/system/$1.service" | head -1; }
as_service() {  # as_service UNIT CMDLINE...: replaces the calling (sub)shell, so that $! is the daemon
  local u=$1; shift
  umask 0077
  cd /
  exec setpriv --reuid="$u" --regid="$u" --init-groups --no-new-privs --inh-caps=-all "$@"
}

# --- the hub host (README step 2 on) ---------------------------------------------------------
as_broker() { (cd / && runuser -u mash-broker -- "$@"); }
as_agent() { (cd / && runuser -u mash-agent -- "$@"); }

# Step 3: the hub's PKI, made by the service user in its state folder. The broker's name must be
# the host name agents and staff connect to (here localhost).
as_broker /usr/share/mash-broker/certs/make-dev-pki.sh init /var/lib/mash-broker/pki \
  --broker-name localhost
# Step 4: the hub's keys.
as_broker mashctl pki keygen --dir /var/lib/mash-broker/keys --name hub >/dev/null
as_broker mashctl pki keygen --dir /var/lib/mash-broker/keys --name hub.audit >/dev/null
as_broker mashctl pki secret --kind database --out /var/lib/mash-broker/keys/hub.db.key >/dev/null
as_broker mashctl pki secret --kind database --out /var/lib/mash-broker/keys/hub.audit.db.key >/dev/null
as_broker mashctl pki secret --kind pseudonym --out /var/lib/mash-broker/keys/hub.pseudonym.key >/dev/null
for k in hub.sign.key hub.enc.key hub.db.key hub.audit.db.key hub.pseudonym.key; do
  [ "$(stat -c '%U %a' "/var/lib/mash-broker/keys/$k")" = "mash-broker 600" ] || fail "$k mode"
done

# Step 5: the partnership's DPO tests and signs the sharing agreement with their own key (on
# their own machine: here $work/dpo) and the hub publishes it.
dpo=$work/dpo
mkdir -m 700 "$dpo"
mashctl pki keygen --dir "$dpo" --name hub-dpo >/dev/null
mashctl policy test /usr/share/mash-broker/examples/policies/hub-agreement.toml >/dev/null
mashctl policy sign /usr/share/mash-broker/examples/policies/hub-agreement.toml \
  --key "$dpo/hub-dpo.sign.key" --out "$dpo/hub-agreement.bundle.json" >/dev/null
install -o mash-broker -g mash-broker -m 0644 "$dpo/hub-dpo.sign.pub" /var/lib/mash-broker/keys/
install -o mash-broker -g mash-broker -m 0600 "$dpo/hub-agreement.bundle.json" /var/lib/mash-broker/
as_broker mashctl policy publish /var/lib/mash-broker/hub-agreement.bundle.json \
  --store /var/lib/mash-broker/policy/hub-agreement --mode enforce \
  --trusted-key /var/lib/mash-broker/keys/hub-dpo.sign.pub >/dev/null

# Step 6: the first admin's token (kept by the admin, here root) and broker.toml. The test also
# moves the listeners to loopback on free ports, so that it cannot clash with anything.
admin=$work/admin
mkdir -m 700 "$admin"
admin_hash=$(mashctl pki token --out "$admin/admin.token")
read -r agent_port api_port ops_port agent_ops_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
python3 - "$admin_hash" "$agent_port" "$api_port" "$ops_port" <<'PY'
import re, sys
h, agent_port, api_port, ops_port = sys.argv[1:]
p = "/etc/mash/broker.toml"
s = open(p).read()
s = re.sub(r'(\[agents\][^[]*?)listen_address = "0.0.0.0"\nlisten_port = 8443',
           r'\1listen_address = "127.0.0.1"\nlisten_port = ' + agent_port, s, flags=re.S)
s = re.sub(r'(\[api\][^[]*?)listen_address = "0.0.0.0"\nlisten_port = 8444',
           r'\1listen_address = "127.0.0.1"\nlisten_port = ' + api_port, s, flags=re.S)
s = s.replace('# [[api_token]]\n# user = "hub.admin"\n# role = "admin"\n# sha256 = "…"',
              '[[api_token]]\nuser = "hub.admin"\nrole = "admin"\nsha256 = "%s"' % h)
s = s.replace('listen = "127.0.0.1:9464"', 'listen = "127.0.0.1:%s"' % ops_port)
assert 'listen_port = ' + agent_port in s and 'listen = "127.0.0.1:' + ops_port in s and 'listen_port = ' + api_port in s and h in s, "edit"
open(p, "w").write(s)
PY
# Step 7: start the broker (systemctl enable --now mash-broker).
read -r -a pre <<<"$(unit_line mash-broker ExecStartPre)"
read -r -a run <<<"$(unit_line mash-broker ExecStart)"
(as_service mash-broker "${pre[@]}") || fail "the broker's ExecStartPre (check-config) failed"
as_service mash-broker "${run[@]}" > "$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q '"event":"broker.ready"' "$work/broker.log" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || fail "the broker exited"
  sleep 0.1
done
grep -q '"event":"broker.ready"' "$work/broker.log" || fail "the broker did not start"
[ "$(stat -c %U /var/lib/mash-broker/data/hub-audit.db)" = mash-broker ] || fail "audit db owner"
[ "$(stat -c %a /var/lib/mash-broker/data/hub-audit.db)" = 600 ] || fail "audit db is not 0600"

export MASH_BROKER=https://localhost:$api_port MASH_CA=/var/lib/mash-broker/pki/root-ca.pem
export MASH_CRLS=/var/lib/mash-broker/pki/root.crl.pem:/var/lib/mash-broker/pki/issuing.crl.pem

# Step 8: the admin adds the agency; its one-time token and the CA pin go to the agency's IT.
out=$(mashctl agency add --id police --name "Police" --type police --out "$admin/police.token" \
  --token-file "$admin/admin.token")
pin=$(sed -nE 's/.*CA pin: (sha256:[0-9a-f]{64}).*/\1/p' <<<"$out" | head -1)
[ -n "$pin" ] || { echo "$out" >&2; fail "agency add printed no CA pin"; }

# --- the agency host ---------------------------------------------------------------------------
# Step 9: enrol, as mash-agent, into its state folder.
install -o mash-agent -g mash-agent -m 0600 "$admin/police.token" /var/lib/mash-agent/police.token
as_agent mash-agent enrol --broker "https://localhost:$api_port" \
  --token-file /var/lib/mash-agent/police.token --ca-pin "$pin" --dir /var/lib/mash-agent \
  --agency-id police > "$work/enrol.log" 2>&1 || fail "mash-agent enrol"
[ ! -e /var/lib/mash-agent/police.token ] || fail "enrol left the token file"
for k in agency-tls.key agency.sign.key agency.enc.key agent.db.key; do
  [ "$(stat -c '%U %a' "/var/lib/mash-agent/$k")" = "mash-agent 600" ] || fail "$k mode"
done

# Step 10: the agency's DPO signs its disclosure policy; the agent publishes it.
mashctl pki keygen --dir "$dpo" --name police-dpo >/dev/null
mashctl policy test /usr/share/mash-agent/examples/policies/police-disclosure.toml >/dev/null
mashctl policy sign /usr/share/mash-agent/examples/policies/police-disclosure.toml \
  --key "$dpo/police-dpo.sign.key" --out "$dpo/police-disclosure.bundle.json" >/dev/null
install -d -o mash-agent -g mash-agent -m 0700 /var/lib/mash-agent/policy
install -o mash-agent -g mash-agent -m 0644 "$dpo/police-dpo.sign.pub" /var/lib/mash-agent/policy/dpo.sign.pub
install -o mash-agent -g mash-agent -m 0600 "$dpo/police-disclosure.bundle.json" /var/lib/mash-agent/policy/
as_agent mashctl policy publish /var/lib/mash-agent/policy/police-disclosure.bundle.json \
  --store /var/lib/mash-agent/policy/police-disclosure --mode enforce \
  --trusted-key /var/lib/mash-agent/policy/dpo.sign.pub >/dev/null

# Step 11: records and policy in agent.toml, installed as /etc/mash/agent.toml.
as_agent mashctl pki secret --kind database --out /var/lib/mash-agent/records.key >/dev/null
cat >> /var/lib/mash-agent/agent.toml <<TOML

[ops]
listen = "127.0.0.1:$agent_ops_port"

[records]
store = "/var/lib/mash-agent/records.db"
store_key = "/var/lib/mash-agent/records.key"

[policy]
store = "/var/lib/mash-agent/policy/police-disclosure"
trusted_keys = ["/var/lib/mash-agent/policy/dpo.sign.pub"]
TOML
install -o root -g mash-agent -m 0640 /var/lib/mash-agent/agent.toml /etc/mash/agent.toml

# Step 12: import the agency's records (here synthetic ones from mash-synth).
as_agent mash-synth --families 30 --seed 20261122 --out /var/lib/mash-agent/import --import csv \
  > "$work/synth.log" 2>&1 || fail "mash-synth"
as_agent mash-agent import --config /etc/mash/agent.toml \
  --people /var/lib/mash-agent/import/police/people.csv \
  --records /var/lib/mash-agent/import/police/records.csv --replace > "$work/import.log" 2>&1 ||
  fail "mash-agent import"

# Step 13: start the agent (systemctl enable --now mash-agent).
read -r -a pre <<<"$(unit_line mash-agent ExecStartPre)"
read -r -a run <<<"$(unit_line mash-agent ExecStart)"
(as_service mash-agent "${pre[@]}") > /dev/null || fail "the agent's ExecStartPre (check-config) failed"
as_service mash-agent "${run[@]}" > "$work/agent.log" 2>&1 &
pids+=($!)

# Step 14: confirm with mashctl (and /healthz).
online=no
for _ in $(seq 1 100); do
  if mashctl agency list --json --token-file "$admin/admin.token" 2>/dev/null |
    grep -qE '"online": ?true'; then online=yes; break; fi
  sleep 0.1
done
[ "$online" = yes ] || fail "the agent did not come online"
mashctl agency list --token-file "$admin/admin.token"
curl -fsS "http://127.0.0.1:$ops_port/healthz" > "$work/healthz" || fail "/healthz"
curl -fsS "http://127.0.0.1:$ops_port/readyz" > "$work/readyz" || fail "/readyz"
curl -fsS "http://127.0.0.1:$agent_ops_port/readyz" > "$work/agent-readyz" || fail "agent /readyz"
echo "$prog: broker /healthz: $(head -c 200 "$work/healthz"); /readyz: $(head -c 200 "$work/readyz");" \
  "agent /readyz: $(head -c 200 "$work/agent-readyz")"

# A practitioner account (README "Running a check with mashctl") raises a check about a person
# police holds; the agent answers.
mashctl user add --user pat.practitioner --name "Pat Practitioner" --role practitioner \
  --team north-mash --out "$admin/pat.otp" --token-file "$admin/admin.token" >/dev/null
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$admin/pat.pw"
chmod 600 "$admin/pat.pw"
mashctl user token --user pat.practitioner --password-file "$admin/pat.otp" \
  --new-password-file "$admin/pat.pw" --out "$admin/pat.token" >/dev/null
read -r given family dob < <(python3 - <<'PY'
import csv
with open("/var/lib/mash-agent/import/police/people.csv", newline="") as f:
    row = next(csv.DictReader(f))
print(row["given_names"].split()[0], row["family_name"].replace(" ", "-"), row["dob"])
PY
)
show=$(mashctl check raise --given-names "$given" --family-name "$family" --dob "$dob" \
  --purpose child-protection-s47 --lawful-basis uk-gdpr-6-1-e --consent given \
  --evidence-ref "consent form CF-1" --urgency red --level 1 --agency police --wait 30 \
  --token-file "$admin/pat.token") || fail "check raise"
echo "$show"
grep -qE '^state +answered$' <<<"$show" || fail "the agent did not answer"
grep -qE '^ +match +(confirmed|possible)$' <<<"$show" ||
  fail "the agent did not match the person it holds"

# Stop both (systemctl stop): SIGTERM, then a clean exit.
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "a daemon exited with $rc on SIGTERM"
done
pids=()

# --- purge, and what is left -------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${packages[@]}" > "$work/purge.log" 2>&1 ||
  { cat "$work/purge.log" >&2; fail "apt-get purge"; }
installed=no
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
    fail "$p is still known to dpkg after purge"
  fi
done
for f in /usr/bin/mash-broker /usr/bin/mash-agent /usr/bin/mash-synth /usr/bin/mashctl \
         /lib/systemd/system/mash-broker.service /lib/systemd/system/mash-agent.service \
         /usr/share/mash-broker /usr/share/mash-agent /etc/mash /var/log/mash-broker \
         /var/log/mash-agent; do
  [ ! -e "$f" ] || fail "$f is left after purge"
done
# Kept on purpose (docs/packages.md): the data, with its owner.
[ -f /var/lib/mash-broker/data/hub-audit.db ] || fail "purge deleted the hub's audit trail"
[ -f /var/lib/mash-agent/agent.db ] || fail "purge deleted the agent's disclosure log"
for u in "${users[@]}"; do
  getent passwd "$u" >/dev/null || fail "purge removed the user $u that owns the kept data"
done
grep -q 'kept /var/lib/mash-broker' "$work/purge.log" || fail "purge did not say what it kept"

echo "$prog: runtime $(( $(date +%s) - start )) s"
echo "install test passed"
