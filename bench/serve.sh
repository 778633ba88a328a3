#!/usr/bin/env bash
# `vigil serve` benchmark: sustained HEC ingest on loopback with indexer acknowledgement, while
# the enabled detections run on their hourly schedules (test clock moved one hour every
# CLOCK_EVERY seconds by the load generator, so each ingested event is scanned by every
# schedule once, as in production). Not a test: prints one line of figures (docs/performance.md).
#
# Usage: bench/serve.sh
# Environment (all optional):
#   DETECTIONS   escu (every ready ESCU detection enabled) | seed (the built-in one) | none
#                (default: escu)
#   ESCU         ESCU content directory              (default: ../shared/escu)
#   MEASURE      measured seconds                    (default: 60)
#   WARMUP       seconds before measuring            (default: 10)
#   CONNECTIONS  sender connections (threads)        (default: 8)
#   BATCH        events per request                  (default: 200)
#   WINDOW       outstanding acks per connection     (default: 4)
#   CLOCK_EVERY  wall seconds per scheduled hour     (default: 10)
#   FORMAT       xml (XmlWinEventLog string events) | json (flat JSON object events)
#   SKIP_BUILD   1: use the existing release binaries
#   KEEP         1: keep the data directory (printed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DETECTIONS="${DETECTIONS:-escu}"
ESCU="${ESCU:-$ROOT/../shared/escu}"
MEASURE="${MEASURE:-60}"
WARMUP="${WARMUP:-10}"
CONNECTIONS="${CONNECTIONS:-8}"
BATCH="${BATCH:-200}"
WINDOW="${WINDOW:-4}"
CLOCK_EVERY="${CLOCK_EVERY:-10}"
FORMAT="${FORMAT:-xml}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VIGIL="$TARGET/release/vigil"
HECLOAD="$TARGET/release/hecload"

log() { echo "bench/serve: $*" >&2; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building release binaries"
  cargo build --release -q -p vigil -p vigil-benchgen
fi

WORK="$(mktemp -d /tmp/vigil-serve-bench.XXXXXX)"
SERVER=
cleanup() {
  if [[ -n "$SERVER" ]] && kill -0 "$SERVER" 2>/dev/null; then kill -TERM "$SERVER"; wait "$SERVER" || true; fi
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

TOKEN="bench-$(date +%s)"
CONTENT=()
{
  printf '[[tokens]]\ntoken = "%s"\nack = true\n\n' "$TOKEN"
  printf '[limits]\nheader_timeout_secs = 120\n\n'
  printf '[scheduler]\n'
  case "$DETECTIONS" in
    escu)
      CONTENT=(--content "$ESCU")
      # Every detection that can run, enabled whatever its deployment says.
      "$VIGIL" content list "${CONTENT[@]}" --format jsonl 2>/dev/null |
        python3 -c 'import json,sys; n=[json.loads(l)["name"] for l in sys.stdin if json.loads(l)["ready"]=="ready"]; print("enable = " + json.dumps(n))'
      ;;
    seed) printf 'enable = ["Windows MSIExec Remote Download"]\n' ;;
    none) printf 'disable = ["Windows MSIExec Remote Download"]\n' ;;
    *) log "DETECTIONS must be escu, seed or none"; exit 2 ;;
  esac
} >"$WORK/vigil.toml"

"$VIGIL" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --config "$WORK/vigil.toml" "${CONTENT[@]}" \
  --now 2026-03-02T00:00:00Z 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 600); do
  grep -q "listening on" "$WORK/serve.log" && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
PORT="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")"
SCHEDULED="$(grep -c '^  `' "$WORK/serve.log" || true)"
DETS="$(sed -n 's/^  `[^`]*` earliest=[^ ]* latest=[^:]*: //p' "$WORK/serve.log" | tr ',' '\n' | grep -c . || true)"
log "server pid $SERVER on port $PORT: $DETS detection(s) in $SCHEDULED schedule(s); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

"$HECLOAD" --port "$PORT" --token "$TOKEN" --pid "$SERVER" --connections "$CONNECTIONS" --batch "$BATCH" \
  --window "$WINDOW" --seconds "$MEASURE" --warmup "$WARMUP" --clock-every "$CLOCK_EVERY" --format "$FORMAT" |
  sed "s/^/detections=$DETECTIONS scheduled=$DETS /"

kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=
RUNS="$(wc -l <"$WORK/data/runs.jsonl" 2>/dev/null || echo 0)"
[[ -s "$WORK/data/runs.jsonl" ]] && python3 - "$WORK/data/runs.jsonl" <<'EOF' >&2 || true
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
if runs:
    print(f"bench/serve: {len(runs)} run(s): {sum(r['duration_ms'] for r in runs)/1000:.1f} s in all, "
          f"longest {max(r['duration_ms'] for r in runs)/1000:.1f} s, {sum(r['events_scanned'] for r in runs)} events scanned, "
          f"{sum(r['results'] for r in runs)} results, {sum(1 for r in runs if r.get('error'))} with an error")
EOF
grep "stopped; ingest" "$WORK/serve.log" >&2 || true
log "disk used by the store: $(du -sh "$WORK/data/store" | cut -f1); $RUNS run record(s)"
