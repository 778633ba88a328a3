#!/usr/bin/env bash
# A worker's instructions per event against `vigil backtest`'s (issue 17), counted by callgrind,
# so the comparison holds whatever else the machine runs. One worker under callgrind, one
# reducer, a Tansu broker with a 6-partition events topic; counters are zeroed once the worker
# has planned its detections, so its start-up is left out, as is backtest's (the same corpus
# minus an empty file). Not a test: prints one table (docs/performance.md).
#
# Usage: bench/cluster_callgrind.sh
# Environment (all optional):
#   EVENTS_MB     corpus size in MB (default 15, about 11 000 XmlWinEventLog events)
#   MODE          trickle: events produced while the worker runs, paced (PRODUCE_RATE records
#                 per second, default 60, slow enough for a worker under callgrind to keep up);
#                 filled: the topic filled before the worker starts
#   DETECTIONS    seed | escu (default escu; ESCU as in bench/cluster.sh)
#   PYTHON, TANSU, SKIP_BUILD, KEEP, CARGO_TARGET_DIR: as in bench/cluster.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/cluster_lib.sh
source "$ROOT/bench/cluster_lib.sh"
EVENTS_MB="${EVENTS_MB:-15}"
MODE="${MODE:-trickle}"
DETECTIONS="${DETECTIONS:-escu}"

log() { echo "bench/cluster_callgrind: $*" >&2; }
[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --release -q -p vigil -p vigil-benchgen
command -v valgrind >/dev/null || { log "valgrind not found"; exit 1; }
[[ -x "$TANSU" ]] || { log "tansu not found (cargo install tansu --locked --features dynostore)"; exit 1; }

WORK="$(mktemp -d /tmp/vigil-cluster-cg.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# instructions FILE... -> the sum of the callgrind totals (every thread's file).
instructions() { awk '/^summary:/ {s += $2} END {printf "%.0f", s}' "$@"; }

"$BENCHGEN" --out "$WORK/corpus" --size-mb "$EVENTS_MB" --files 1 --max-gap-us 2400000 --tp-every 500 >"$WORK/corpus.manifest"
FILE="$WORK/corpus/corpus_000.xml"
EVENTS="$(sed -n 's/^events=\([0-9]*\).*/\1/p' "$WORK/corpus.manifest")"

CONTENT=()
ENABLE_ARGS=()
case "$DETECTIONS" in
  seed) NAMES=("Windows MSIExec Remote Download") ;;
  escu)
    CONTENT=(--content "$ESCU")
    mapfile -t NAMES < <("$VIGIL" content list "${CONTENT[@]}" --format jsonl 2>/dev/null |
      python3 -c 'import json,sys; [print(d["name"]) for d in map(json.loads, sys.stdin) if d["ready"] == "ready"]')
    ;;
  *) log "DETECTIONS must be seed or escu"; exit 2 ;;
esac
for n in "${NAMES[@]}"; do ENABLE_ARGS+=(--enable "$n"); done
SCHED="enable = $(printf '%s\n' "${NAMES[@]}" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().splitlines()))')"

# backtest, the same events in one process, minus the same over an empty file.
: >"$WORK/empty.xml"
for input in "$FILE" "$WORK/empty.xml"; do
  valgrind --tool=callgrind --callgrind-out-file="$WORK/bt-$(basename "$input").cg" "$VIGIL" backtest \
    --from "$DAY_FROM" --to "$DAY_TO" "${CONTENT[@]}" "${ENABLE_ARGS[@]}" --format jsonl "$input" >"$WORK/bt.out" 2>/dev/null
done
BT=$(( $(instructions "$WORK/bt-$(basename "$FILE").cg") - $(instructions "$WORK/bt-empty.xml.cg") ))
log "backtest: $BT instructions over $EVENTS events"

BPORT="$(free_port)"
"$TANSU" broker --listener-url "tcp://127.0.0.1:$BPORT" --advertised-listener-url "tcp://127.0.0.1:$BPORT" \
  --storage-engine memory://tansu/ >"$WORK/tansu.out" 2>"$WORK/tansu.log" &
PIDS+=($!)
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null && break; sleep 0.1; done
cluster_config "$WORK/vigil.toml" "$BPORT" "$SCHED"
produce() {
  "$PYTHON" bench/kafka_produce.py "127.0.0.1:$BPORT" vigil-events "$PARTITIONS" xml "$FILE" >/dev/null
  PRODUCE_RATE=0 "$PYTHON" bench/kafka_produce.py "127.0.0.1:$BPORT" vigil-events "$PARTITIONS" heartbeat \
    "$(date -d "$DAY_TO + 30 min" +%s)000" >/dev/null
}
if [[ "$MODE" == filled ]]; then PRODUCE_RATE=0 produce; fi

RPORT="$(free_port)"
"$VIGIL" serve --role reducer --config "$WORK/vigil.toml" "${CONTENT[@]}" --data-dir "$WORK/reducer" \
  --listen "127.0.0.1:$RPORT" --now "$DAY_FROM" 2>"$WORK/reducer.log" &
PIDS+=($!)
# --separate-threads: librdkafka's threads are counted too, each in a file of its own.
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/worker.cg" "$VIGIL" serve --role worker \
  --config "$WORK/vigil.toml" "${CONTENT[@]}" --data-dir "$WORK/worker" --listen "127.0.0.1:$(free_port)" \
  --now "$DAY_FROM" 2>"$WORK/worker.log" &
WORKER=$!
PIDS+=($WORKER)
for _ in $(seq 12000); do grep -qs "vigil worker: group" "$WORK/worker.log" && break; sleep 0.05; done
callgrind_control -z "$WORKER" >/dev/null
log "worker planned; counters zeroed; mode $MODE"
if [[ "$MODE" == trickle ]]; then PRODUCE_RATE="${PRODUCE_RATE:-60}" produce; fi
for _ in $(seq 36000); do
  [[ "$(metric "$RPORT" vigil_cluster_runs_finished_total)" -ge 24 ]] 2>/dev/null && break
  sleep 0.1
done
rm -f "$WORK"/worker.cg*
callgrind_control -d "$WORKER" >/dev/null
W=$(instructions "$WORK"/worker.cg*)
printf 'mode     detections  events  backtest_instr_per_event  worker_instr_per_event  worker/backtest\n'
printf '%-8s %-10s  %s  %.0f  %.0f  %.3f\n' "$MODE" "$DETECTIONS" "$EVENTS" "$(echo "$BT / $EVENTS" | bc -l)" \
  "$(echo "$W / $EVENTS" | bc -l)" "$(echo "$W / $BT" | bc -l)"
