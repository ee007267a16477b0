#!/usr/bin/env bash
# Makes and maintains a development PKI for MASH Exchange (DESIGN §6). See certs/README.md.
# Never use its output in production: the CA keys sit next to the certificates.
set -euo pipefail
umask 077

readonly PROG="make-dev-pki.sh"
CERTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly CERTS_DIR
readonly CNF="$CERTS_DIR/openssl.cnf"

readonly ROOT_SUBJ="/O=MASH Exchange Dev/CN=MASH Dev Root CA"
readonly ISSUING_SUBJ="/O=MASH Exchange Dev/CN=MASH Dev Issuing CA"
readonly LEAF_O="MASH Exchange Dev"
readonly ROOT_DAYS=3650
readonly ISSUING_DAYS=1825
readonly LEAF_DAYS=90
readonly AGENCY_URI_PREFIX="urn:mash:agency:"

# openssl.cnf refers to these; OpenSSL refuses a config whose variables are unset.
export MASH_CA_DIR="/nonexistent" MASH_SAN="DNS:unused"

usage() {
  cat <<'EOF'
Usage:
  make-dev-pki.sh init OUTDIR [--broker-name NAME] AGENCY_ID...
      Make a root CA, an issuing CA, both CRLs, the broker's server certificate and one client
      certificate per agency in OUTDIR. Writes root-ca.{pem,key}, issuing-ca.{pem,key},
      root.crl.pem, issuing.crl.pem, broker.{pem,key}, agency-<id>.{pem,key} and ca-pin.txt
      ("sha256:<hex>" of the root CA's SubjectPublicKeyInfo). NAME defaults to "localhost";
      the broker certificate names it (DNS, or IP for an IPv4 literal) and IP 127.0.0.1.

  make-dev-pki.sh issue OUTDIR --name NAME --profile client|server [--agency ID] [--dns NAME]
                        [--start YYYYMMDDHHMMSSZ] [--end YYYYMMDDHHMMSSZ]
      Issue another leaf from the issuing CA: NAME.pem (leaf then issuing CA) and NAME.key.
      client: EKU clientAuth, SAN URI urn:mash:agency:ID (when --agency) and DNS (when --dns).
      server: EKU serverAuth, SAN DNS (--dns, default the broker name) and IP 127.0.0.1.
      Validity defaults to now .. now + 90 days.

  make-dev-pki.sh revoke OUTDIR NAME
      Revoke NAME (a leaf issued by init or issue, or "issuing-ca") and regenerate both CRLs.

  make-dev-pki.sh crl OUTDIR [--last-update T] [--next-update T]
      Regenerate root.crl.pem and issuing.crl.pem (default nextUpdate: now + 7 days).
      A nextUpdate in the past makes a stale CRL.

  make-dev-pki.sh rogue OUTDIR --name NAME [--agency ID] [--profile client|server] [--dns NAME]
      Make a separate root and issuing CA with the same subject names as the real ones and issue
      a leaf from it: NAME.pem (chain), NAME.key, NAME-ca.pem (rogue root), NAME.crl.pem (both
      rogue CRLs). The profile defaults to client with --agency, server without.

Agency ids match ^[a-z][a-z0-9-]{1,31}$. Names match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
Times are UTC, YYYYMMDDHHMMSSZ. Keys are ECDSA P-256, written with umask 077.
Quiet on success; errors go to stderr and the exit status is non-zero.
EOF
}

# Files of a half-made leaf, removed if the script fails before it is complete.
CLEANUP=()
trap 'if [[ ${#CLEANUP[@]} -gt 0 ]]; then rm -f "${CLEANUP[@]}"; fi' EXIT

die() {
  echo "$PROG: $*" >&2
  exit 1
}

# Runs a command with its chatter captured; shows it only when the command fails.
run() {
  if ! "$@" >"$LOG" 2>&1; then
    echo "$PROG: command failed: $*" >&2
    cat "$LOG" >&2
    exit 1
  fi
}

check_agency() { [[ "$1" =~ ^[a-z][a-z0-9-]{1,31}$ ]] || die "bad agency id: '$1'"; }
check_name() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad name: '$1'"; }
check_dns() { [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ ]] || die "bad DNS name: '$1'"; }
check_time() { [[ "$1" =~ ^([0-9]{12}|[0-9]{14})Z$ ]] || die "bad time (YYYYMMDDHHMMSSZ): '$1'"; }
is_ipv4() { [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; }

# SAN entry naming a host: IP for an IPv4 literal, DNS otherwise.
host_san() { if is_ipv4 "$1"; then echo "IP:$1"; else echo "DNS:$1"; fi; }

# Sets the globals used by everything else for the PKI in OUTDIR.
use_outdir() {
  OUT="$1"
  PKI="$OUT/.pki"
  LOG="$PKI/log"
}

require_pki() {
  [[ -d "$PKI/root" && -d "$PKI/issuing" ]] || die "$OUT: not a PKI made by '$PROG init'"
}

# new_ca_db DIR: an empty `openssl ca` database.
new_ca_db() {
  mkdir -p "$1/newcerts"
  : >"$1/index.txt"
  echo 1000 >"$1/crlnumber"
}

# new_key_csr KEY CSR SUBJECT
new_key_csr() {
  run openssl req -new -config "$CNF" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
    -keyout "$1" -out "$2" -subj "$3"
}

# ca_sign CA_DB CA_CERT CA_KEY PROFILE SAN CSR OUT [openssl ca validity options...]
ca_sign() {
  local db="$1" cert="$2" key="$3" profile="$4" san="$5" csr="$6" out="$7"
  shift 7
  MASH_CA_DIR="$db" MASH_SAN="$san" run openssl ca -batch -notext -config "$CNF" \
    -cert "$cert" -keyfile "$key" -extensions "$profile" -in "$csr" -out "$out" "$@"
}

# make_cas DIR ROOT_CERT ROOT_KEY ISSUING_CERT ISSUING_KEY: root and issuing CA, databases in DIR.
make_cas() {
  local dir="$1" root_cert="$2" root_key="$3" iss_cert="$4" iss_key="$5"
  new_ca_db "$dir/root"
  new_ca_db "$dir/issuing"
  MASH_CA_DIR="$dir/root" run openssl req -x509 -new -config "$CNF" -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout "$root_key" -out "$root_cert" \
    -subj "$ROOT_SUBJ" -extensions v3_root -days "$ROOT_DAYS"
  new_key_csr "$iss_key" "$dir/issuing.csr" "$ISSUING_SUBJ"
  ca_sign "$dir/root" "$root_cert" "$root_key" v3_issuing "DNS:unused" "$dir/issuing.csr" \
    "$iss_cert" -days "$ISSUING_DAYS"
  rm -f "$dir/issuing.csr"
}

# gen_crl CA_DB CA_CERT CA_KEY OUT LAST NEXT (LAST/NEXT may be empty)
gen_crl() {
  local args=()
  [[ -n "$5" ]] && args+=(-crl_lastupdate "$5")
  [[ -n "$6" ]] && args+=(-crl_nextupdate "$6")
  MASH_CA_DIR="$1" run openssl ca -gencrl -config "$CNF" -cert "$2" -keyfile "$3" -out "$4" \
    ${args[@]+"${args[@]}"}
}

# issue_leaf NAME PROFILE AGENCY DNS START END: NAME.pem (chain) and NAME.key from the issuing CA.
issue_leaf() {
  local name="$1" profile="$2" agency="$3" dns="$4" start="$5" end="$6"
  [[ -e "$OUT/$name.pem" || -e "$OUT/$name.key" ]] && die "$OUT/$name.pem already exists"
  local san="" section
  case "$profile" in
    server)
      section=server_leaf
      [[ -n "$dns" ]] || dns="$(cat "$PKI/broker-name")"
      san="$(host_san "$dns"),IP:127.0.0.1"
      [[ -n "$agency" ]] && san="$san,URI:$AGENCY_URI_PREFIX$agency"
      ;;
    client)
      section=client_leaf
      [[ -n "$agency" ]] && san="URI:$AGENCY_URI_PREFIX$agency"
      [[ -n "$dns" ]] && san="${san:+$san,}$(host_san "$dns")"
      [[ -n "$san" ]] || section=client_leaf_nosan
      ;;
    *) die "bad profile: '$profile' (client or server)" ;;
  esac
  local validity=()
  if [[ -n "$start" ]]; then validity+=(-startdate "$start"); fi
  if [[ -n "$end" ]]; then validity+=(-enddate "$end"); else validity+=(-days "$LEAF_DAYS"); fi
  mkdir -p "$PKI/leaves"
  local csr="$PKI/leaves/$name.csr" leaf="$PKI/leaves/$name.pem"
  CLEANUP=("$OUT/$name.key" "$OUT/$name.pem" "$csr" "$leaf")
  new_key_csr "$OUT/$name.key" "$csr" "/O=$LEAF_O/CN=$name"
  ca_sign "$PKI/issuing" "$OUT/issuing-ca.pem" "$OUT/issuing-ca.key" "$section" "${san:-DNS:unused}" \
    "$csr" "$leaf" "${validity[@]}"
  rm -f "$csr"
  cat "$leaf" "$OUT/issuing-ca.pem" >"$OUT/$name.pem"
  CLEANUP=()
}

regen_crls() {
  gen_crl "$PKI/root" "$OUT/root-ca.pem" "$OUT/root-ca.key" "$OUT/root.crl.pem" "$1" "$2"
  gen_crl "$PKI/issuing" "$OUT/issuing-ca.pem" "$OUT/issuing-ca.key" "$OUT/issuing.crl.pem" \
    "$1" "$2"
}

cmd_init() {
  local outdir="" broker="localhost" agencies=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker-name) [[ $# -ge 2 ]] || die "--broker-name needs a value"; broker="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      -*) die "init: unknown option '$1'" ;;
      *) if [[ -z "$outdir" ]]; then outdir="$1"; else agencies+=("$1"); fi; shift ;;
    esac
  done
  [[ -n "$outdir" ]] || die "init: OUTDIR is required"
  check_dns "$broker"
  local a
  for a in ${agencies[@]+"${agencies[@]}"}; do check_agency "$a"; done
  mkdir -p "$outdir"
  use_outdir "$outdir"
  [[ -e "$PKI" ]] && die "$OUT already holds a PKI"
  mkdir -p "$PKI"
  echo "$broker" >"$PKI/broker-name"

  make_cas "$PKI" "$OUT/root-ca.pem" "$OUT/root-ca.key" "$OUT/issuing-ca.pem" \
    "$OUT/issuing-ca.key"
  issue_leaf broker server "" "$broker" "" ""
  for a in ${agencies[@]+"${agencies[@]}"}; do issue_leaf "agency-$a" client "$a" "" "" ""; done
  regen_crls "" ""
  local hex
  hex="$(openssl pkey -in "$OUT/root-ca.key" -pubout -outform DER | sha256sum)"
  echo "sha256:${hex%% *}" >"$OUT/ca-pin.txt"
}

cmd_issue() {
  [[ $# -ge 1 ]] || die "issue: OUTDIR is required"
  use_outdir "$1"
  shift
  local name="" profile="" agency="" dns="" start="" end=""
  while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || die "issue: '$1' needs a value"
    case "$1" in
      --name) name="$2" ;;
      --profile) profile="$2" ;;
      --agency) agency="$2" ;;
      --dns) dns="$2" ;;
      --start) start="$2" ;;
      --end) end="$2" ;;
      *) die "issue: unknown option '$1'" ;;
    esac
    shift 2
  done
  [[ -n "$name" ]] || die "issue: --name is required"
  [[ -n "$profile" ]] || die "issue: --profile is required"
  check_name "$name"
  [[ -z "$agency" ]] || check_agency "$agency"
  [[ -z "$dns" ]] || check_dns "$dns"
  [[ -z "$start" ]] || check_time "$start"
  [[ -z "$end" ]] || check_time "$end"
  require_pki
  issue_leaf "$name" "$profile" "$agency" "$dns" "$start" "$end"
}

cmd_revoke() {
  [[ $# -eq 2 ]] || die "usage: $PROG revoke OUTDIR NAME"
  use_outdir "$1"
  check_name "$2"
  require_pki
  if [[ "$2" == "issuing-ca" ]]; then
    MASH_CA_DIR="$PKI/root" run openssl ca -config "$CNF" -cert "$OUT/root-ca.pem" \
      -keyfile "$OUT/root-ca.key" -revoke "$OUT/issuing-ca.pem"
  else
    [[ -f "$PKI/leaves/$2.pem" ]] || die "no certificate named '$2' in $OUT"
    MASH_CA_DIR="$PKI/issuing" run openssl ca -config "$CNF" -cert "$OUT/issuing-ca.pem" \
      -keyfile "$OUT/issuing-ca.key" -revoke "$PKI/leaves/$2.pem"
  fi
  regen_crls "" ""
}

cmd_crl() {
  [[ $# -ge 1 ]] || die "crl: OUTDIR is required"
  use_outdir "$1"
  shift
  local last="" next=""
  while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || die "crl: '$1' needs a value"
    case "$1" in
      --last-update) check_time "$2"; last="$2" ;;
      --next-update) check_time "$2"; next="$2" ;;
      *) die "crl: unknown option '$1'" ;;
    esac
    shift 2
  done
  require_pki
  regen_crls "$last" "$next"
}

cmd_rogue() {
  [[ $# -ge 1 ]] || die "rogue: OUTDIR is required"
  use_outdir "$1"
  shift
  local name="" agency="" profile="" dns=""
  while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || die "rogue: '$1' needs a value"
    case "$1" in
      --name) name="$2" ;;
      --agency) agency="$2" ;;
      --profile) profile="$2" ;;
      --dns) dns="$2" ;;
      *) die "rogue: unknown option '$1'" ;;
    esac
    shift 2
  done
  [[ -n "$name" ]] || die "rogue: --name is required"
  check_name "$name"
  [[ -z "$agency" ]] || check_agency "$agency"
  [[ -z "$dns" ]] || check_dns "$dns"
  [[ -n "$profile" ]] || { if [[ -n "$agency" ]]; then profile=client; else profile=server; fi; }
  require_pki
  [[ -e "$OUT/$name.pem" || -e "$OUT/$name-ca.pem" ]] && die "$OUT/$name.pem already exists"

  # The rogue PKI is a PKI of its own in a private directory; its leaf is copied out.
  local rogue_dir="$PKI/rogue-$name"
  local rogue_out="$rogue_dir/out"
  mkdir -p "$rogue_out/.pki"
  cp "$PKI/broker-name" "$rogue_out/.pki/broker-name"
  make_cas "$rogue_out/.pki" "$rogue_out/root-ca.pem" "$rogue_out/root-ca.key" \
    "$rogue_out/issuing-ca.pem" "$rogue_out/issuing-ca.key"
  local real_out="$OUT"
  use_outdir "$rogue_out"
  issue_leaf "$name" "$profile" "$agency" "$dns" "" ""
  regen_crls "" ""
  cat "$OUT/root.crl.pem" "$OUT/issuing.crl.pem" >"$real_out/$name.crl.pem"
  cp "$OUT/root-ca.pem" "$real_out/$name-ca.pem"
  cp "$OUT/$name.pem" "$real_out/$name.pem"
  cp "$OUT/$name.key" "$real_out/$name.key"
}

main() {
  [[ $# -ge 1 ]] || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    init) cmd_init "$@" ;;
    issue) cmd_issue "$@" ;;
    revoke) cmd_revoke "$@" ;;
    crl) cmd_crl "$@" ;;
    rogue) cmd_rogue "$@" ;;
    -h|--help|help) usage ;;
    *) echo "$PROG: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
  esac
}

main "$@"
