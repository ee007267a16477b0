#!/usr/bin/env bash
# TLS checked by a real scanner (issue 8): Debian's sslscan against a running broker's API
# listener and its agent listener (mutual TLS: sslscan has no client certificate, which TLS 1.3
# only asks for after the server's handshake messages, so every protocol, suite and group is still
# probed). From sslscan's XML it asserts, for each listener: only TLS 1.3 is enabled (SSLv2, SSLv3,
# TLS 1.0, 1.1 and 1.2 refused); the accepted cipher suites and key-exchange groups are exactly
# those crypto/src/tls.cc configures (read from that file, so the test follows it); no suite is
# rated below "acceptable"; no renegotiation, no Heartbleed; and nothing sslscan flags about the
# certificate (expired, not yet valid, self-signed, key error, weak key or signature).
# Exits 0 and prints "tls scan passed".
#
# Usage: scripts/tls-scan-test.sh BIN_DIR
# shellcheck disable=SC2119
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/hub.sh source-path=SCRIPTDIR
source "$here/scripts/lib/hub.sh"
hub_init tls-scan "${1:?usage: scripts/tls-scan-test.sh BIN_DIR}"
command -v sslscan >/dev/null || { echo "tls-scan: sslscan is missing (apt-get install sslscan; ./mash does it)" >&2; exit 1; }
hub_make_workdir tls-scan
work=$hub_work
hub_trap_cleanup

hub_make_keys >/dev/null
hub_publish_policies >/dev/null
hub_write_broker_config
hub_start_broker
hub_wait_broker_ready

for listener in api agents; do
  port=$hub_api_port
  [ "$listener" = agents ] && port=$hub_agent_port
  sslscan --no-colour --xml="$work/$listener.xml" "127.0.0.1:$port" > "$work/$listener.txt" 2>&1 ||
    { cat "$work/$listener.txt" >&2; echo "tls-scan: sslscan failed on the $listener listener" >&2; exit 1; }
  python3 - "$listener" "$work/$listener.xml" "$here/crypto/src/tls.cc" <<'PY'
import re, sys, xml.etree.ElementTree as ET

listener, xml_file, tls_cc = sys.argv[1:]
problems = []

# What crypto/src/tls.cc configures: kCipherSuites (IANA names, as sslscan prints them) and
# kGroups (OpenSSL names, compared by their TLS code points).
src = open(tls_cc).read()
def constant(name):
    m = re.search(r'constexpr char %s\[\] =\s*((?:"[^"]*"\s*)+);' % name, src)
    if not m:
        sys.exit("tls-scan: %s not found in %s" % (name, tls_cc))
    return "".join(re.findall(r'"([^"]*)"', m.group(1)))
want_suites = set(constant("kCipherSuites").split(":"))
group_ids = {"X25519": 0x001d, "P-256": 0x0017, "P-384": 0x0018, "P-521": 0x0019,
             "X448": 0x001e, "ffdhe2048": 0x0100, "ffdhe3072": 0x0101}
want_groups = {group_ids[g] for g in constant("kGroups").split(":")}

test = ET.parse(xml_file).getroot().find("ssltest")
if test is None:
    sys.exit("tls-scan: no <ssltest> in sslscan's output for %s" % listener)

enabled = {(p.get("type"), p.get("version")): p.get("enabled") for p in test.findall("protocol")}
for proto in [("ssl", "2"), ("ssl", "3"), ("tls", "1.0"), ("tls", "1.1"), ("tls", "1.2")]:
    if enabled.get(proto) != "0":
        problems.append("%s %s is not disabled (%s)" % (proto[0].upper(), proto[1], enabled.get(proto)))
if enabled.get(("tls", "1.3")) != "1":
    problems.append("TLS 1.3 is not enabled")

ciphers = test.findall("cipher")
suites = {c.get("cipher") for c in ciphers}
if suites != want_suites:
    problems.append("suites %s, tls.cc allows %s" % (sorted(suites), sorted(want_suites)))
for c in ciphers:
    if c.get("sslversion") != "TLSv1.3":
        problems.append("suite %s accepted over %s" % (c.get("cipher"), c.get("sslversion")))
    if c.get("strength") not in ("acceptable", "strong"):
        problems.append("suite %s rated %s" % (c.get("cipher"), c.get("strength")))
groups = {int(g.get("id"), 16) for g in test.findall("group")}
if groups != want_groups:
    problems.append("groups %s, tls.cc allows %s" % (sorted(map(hex, groups)), sorted(map(hex, want_groups))))

reneg = test.find("renegotiation")
if reneg is not None and reneg.get("supported") != "0":
    problems.append("renegotiation is supported")
for hb in test.findall("heartbleed"):
    if hb.get("vulnerable") != "0":
        problems.append("heartbleed: vulnerable over %s" % hb.get("sslversion"))
if test.find("compression") is not None and test.find("compression").get("supported") != "0":
    problems.append("compression is supported")

certs = test.findall("certificates/certificate")
if not certs:
    problems.append("no certificate in the scan")
for cert in certs:
    for flag in ("expired", "self-signed", "not-yet-valid"):
        node = cert.find(flag)
        if node is not None and node.text.strip() != "false":
            problems.append("certificate: %s is %s" % (flag, node.text.strip()))
    sig = (cert.findtext("signature-algorithm") or "").lower()
    if not sig or re.search(r"md5|sha1(?!\d)|md2|none", sig):
        problems.append("certificate: signature algorithm '%s'" % sig)
    pk = cert.find("pk")
    if pk is None or pk.get("error") != "false":
        problems.append("certificate: public key error")
    elif int(pk.get("bits", "0")) < 128:
        problems.append("certificate: %s key of %s bits" % (pk.get("type"), pk.get("bits")))

if problems:
    print("tls-scan: %s listener: " % listener + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print("tls-scan: %s listener: TLS 1.3 only; suites %s; groups %s; certificate %s, not expired" % (
    listener, ", ".join(c.get("cipher") for c in ciphers),
    ", ".join(g.get("name") for g in test.findall("group")),
    certs[0].findtext("signature-algorithm")))
PY
done
hub_stop_all || { echo "tls-scan: the broker exited with an error" >&2; exit 1; }
echo "tls scan passed"
