#!/usr/bin/env bash
# The end-to-end benchmark (`./mash bench e2e`): a real hub on loopback, the broker and six agents
# built in BIN_DIR, each agency's record store holding RECORDS generated person records, and the
# load generator (mash_e2e_load) raising checks through the broker's HTTPS API as a practitioner.
#
#   tests/bench/e2e/run-e2e.sh BIN_DIR [--records N] [--phase1 S] [--phase2 S] [--rate R]
#                                      [--concurrency C] [--warmup S] [--match-every K]
#                                      [--prepare-only]
#
# --prepare-only generates and caches the records and stops.
# Phase 1 offers R checks/s (open loop); phase 2 runs C practitioners back to back (closed loop).
# The load generator's last line, which this script prints last, is one JSON object of figures
# (docs/benchmarks.md). Exit codes: 0 figures printed, 1 the hub or the run failed, 2 usage.
#
# Generated records are cached under BIN_DIR/bench-cache/, keyed by the record count and the hash
# of what generates and imports them (the generator, the importer, the record store, the request
# maker, and `generation` below), so only the first run pays for generation and import.
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=scripts/lib/hub.sh
source "$here/scripts/lib/hub.sh"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
bin_dir=$1
shift
records=100000 phase1=25 phase2=25 rate=100 concurrency=32 warmup=3 match_every=10 prepare_only=no
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare-only) prepare_only=yes; shift; continue ;;
    --records) records=$2 ;;
    --phase1) phase1=$2 ;;
    --phase2) phase2=$2 ;;
    --rate) rate=$2 ;;
    --concurrency) concurrency=$2 ;;
    --warmup) warmup=$2 ;;
    --match-every) match_every=$2 ;;
    *) usage ;;
  esac
  shift 2
done

hub_init bench-e2e "$bin_dir" " (./mash build release)"
load_bin=$hub_bin/tests/bench/e2e/mash_e2e_load
[ -x "$load_bin" ] || [ "$prepare_only" = yes ] ||
  { echo "bench-e2e: $load_bin is missing; build first" >&2; exit 2; }

hub_make_workdir bench-e2e
# MASH_BENCH_KEEP=1 keeps the hub's folder (logs, databases) for a look afterwards.
trap 'hub_kill_all; if [ "${MASH_BENCH_KEEP:-}" = 1 ]; then echo "bench-e2e: kept $hub_work" >&2; else rm -rf "$hub_work"; fi' EXIT
hub_make_keys > "$hub_work/pki.log" 2>&1 || { cat "$hub_work/pki.log" >&2; exit 1; }
hub_publish_policies > "$hub_work/policies.log"

# ---- generated records, cached -------------------------------------------------------------
# Probation holds the fewest people (about 235 per 1,000 families): enough families that even
# its store is full, then every agency keeps its first RECORDS people (families stay whole at
# the front, so the subjects below are held wherever the truth says).
families=$(( records * 44 / 10 + 50 ))
# Bump when what follows changes how the records or the requests are made.
generation=1
cache_key=$(cat "$here/agent/src/synthetic.cc" "$here/agent/src/synth_main.cc" \
  "$here/agent/src/record_import.cc" "$here/agent/src/record_store.cc" \
  "$here/tests/bench/e2e/make_requests.py" |
  { sha256sum; echo "$records $families $generation"; } | sha256sum | cut -c1-16)
cache=$hub_bin/bench-cache/records-$records-$cache_key
make_records() {
  local tmp=$cache.tmp a started
  started=$(date +%s)
  mkdir -p "$tmp/keys" "$tmp/data"
  # Generated files are kept until the stores are made (a failed import does not generate again).
  if [ ! -f "$tmp/synth.done" ]; then
    echo "bench-e2e: generating $families families for $records records per agency (cached in $cache)"
    rm -rf "$tmp/synth" "$tmp/strangers"
    "$hub_synth_bin" --families "$families" --seed 20261122 --out "$tmp/synth" --import csv >/dev/null
    # Subjects that no agency holds: people of another seed, shaped like the held ones.
    "$hub_synth_bin" --families 3000 --seed 77 --out "$tmp/strangers" --import csv >/dev/null
    touch "$tmp/synth.done"
  fi
  # The importer reads an agent configuration, which needs a broker URL (not used by import).
  hub_agent_port=${hub_agent_port:-1}
  for a in "${hub_agencies[@]}"; do
    local d=$tmp/synth/$a
    head -n $(( records + 1 )) "$d/people.csv" > "$d/people.kept.csv"
    local last
    last=$(tail -n 1 "$d/people.kept.csv" | cut -d, -f1)
    awk -F, -v last="$last" 'NR == 1 || $1 <= last' "$d/records.csv" > "$d/records.kept.csv"
    "$hub_mashctl" pki secret --kind database --out "$tmp/keys/$a.records.key" >/dev/null
    hub_records=store
    hub_write_agent_config "$a"
    sed -i "s|$hub_work/data/$a.records.db|$tmp/data/$a.records.db|; s|$hub_work/keys/$a.records.key|$tmp/keys/$a.records.key|" \
      "$hub_work/agent-$a.toml"
    printf 'bench-e2e: importing %-12s ' "$a:"
    "$hub_agent_bin" import --config "$hub_work/agent-$a.toml" --people "$d/people.kept.csv" \
      --records "$d/records.kept.csv" --replace 2> "$hub_work/import-$a.log" ||
      { cat "$hub_work/import-$a.log" >&2; exit 1; }
  done
  python3 "$here/tests/bench/e2e/make_requests.py" "$tmp/synth" "$tmp/strangers" "$records" \
    > "$tmp/requests.json"
  rm -rf "$tmp/synth" "$tmp/strangers" "$tmp/synth.done"
  mv "$tmp" "$cache"
  echo "bench-e2e: records generated and imported in $(( $(date +%s) - started )) s"
}
[ -f "$cache/requests.json" ] || make_records
[ "$prepare_only" = no ] || exit 0
hub_records=store
for a in "${hub_agencies[@]}"; do
  cp "$cache/data/$a.records.db" "$hub_work/data/$a.records.db"
  install -m 600 "$cache/keys/$a.records.key" "$hub_work/keys/$a.records.key"
done

# ---- the hub --------------------------------------------------------------------------------
hub_write_broker_config
# A hub working round the clock (no out-of-hours alert per check raised at night).
printf '\n[deadlines]\nalways = true\n' >> "$hub_work/broker.toml"
hub_check_broker_config >/dev/null
hub_start_broker
hub_wait_broker_ready
hub_start_agents
hub_mashctl_env
hub_wait_agents_online 300 || { echo "bench-e2e: only $hub_online agents online" >&2; tail -n 5 "$hub_work"/logs/*.log >&2; exit 1; }

pids="broker=$hub_broker_pid"
for i in "${!hub_agencies[@]}"; do pids+=",${hub_agencies[$i]}=${hub_pids[$((i + 1))]}"; done

status=0
"$load_bin" --url "$MASH_BROKER" --ca "$MASH_CA" --crls "$MASH_CRLS" \
  --token-file "$MASH_TOKEN_FILE" --requests "$cache/requests.json" --match-every "$match_every" \
  --rate "$rate" --phase1 "$phase1" --phase2 "$phase2" --warmup "$warmup" \
  --concurrency "$concurrency" --pids "$pids" --data-dir "$hub_work/data" \
  --records "$records" > "$hub_work/load.out" || status=$?
# Everything but the figures first; the JSON line last.
grep -v '^{' "$hub_work/load.out" || true
if ! hub_stop_all; then
  echo "bench-e2e: a process did not stop cleanly" >&2
  tail -n 5 "$hub_work"/logs/*.log >&2
  status=1
fi
errors=$(cat "$hub_work"/logs/*.log | grep -c '"level":"error"' || true)
[ "$errors" = 0 ] || echo "bench-e2e: $errors error lines in the hub's logs" >&2
grep '^{' "$hub_work/load.out" | tail -n 1 || { echo "bench-e2e: no figures" >&2; exit 1; }
exit "$status"
