#!/usr/bin/env bash
# Control for the cluster benchmark (issue 17): what K single processes cost side by side on one
# core, with nothing of the cluster in them. K = 1, 2, 3 `vigil backtest` processes run on CPU 1
# (taskset), each fed every K-th event of the day's corpus through its own pipe, one chunk a
# second at PACE_MBPS/K MB a second (bench/pace.py, on CPU 0), as K trickle-fed workers would
# be. Prints, per round, CPU-seconds per million events of all K together (each process's
# start-up, measured over no events, left out). Not a test.
#
# Usage: bench/colocated.sh
# Environment (all optional): EVENTS_MB (60), ROUNDS (3), PACE_MBPS (4), DETECTIONS (escu |
# seed; default escu), ESCU, SKIP_BUILD, CARGO_TARGET_DIR: as in bench/cluster.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/cluster_lib.sh
source "$ROOT/bench/cluster_lib.sh"
EVENTS_MB="${EVENTS_MB:-60}"
ROUNDS="${ROUNDS:-3}"
PACE="$(echo "${PACE_MBPS:-4} * 1000000 / 1" | bc)"
[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --release -q -p vigil -p vigil-benchgen
WORK="$(mktemp -d /tmp/vigil-colocated.XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BENCHGEN" --out "$WORK/corpus" --size-mb "$EVENTS_MB" --files 1 --max-gap-us 2400000 --tp-every 500 >"$WORK/manifest"
FILE="$WORK/corpus/corpus_000.xml"
EVENTS="$(sed -n 's/^events=\([0-9]*\).*/\1/p' "$WORK/manifest")"
ARGS=(--enable "Windows MSIExec Remote Download")
if [[ "${DETECTIONS:-escu}" == escu ]]; then
  ARGS=(--content "$ESCU")
  mapfile -t NAMES < <("$VIGIL" content list --content "$ESCU" --format jsonl 2>/dev/null |
    python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in sys.stdin if json.loads(l)["ready"]=="ready"]')
  for n in "${NAMES[@]}"; do ARGS+=(--enable "$n"); done
fi
backtest() { # INPUT TIMEFILE
  taskset -c 1 /usr/bin/time -f '%U %S' -o "$2" "$VIGIL" backtest --from "$DAY_FROM" --to "$DAY_TO" "${ARGS[@]}" \
    --format jsonl "$1" >/dev/null 2>&1
}
: >"$WORK/empty.xml"
backtest "$WORK/empty.xml" "$WORK/empty.time"
read -r E_USER E_SYS <"$WORK/empty.time"
for k in 2 3; do
  for i in $(seq 0 $((k - 1))); do awk -v k="$k" -v i="$i" 'NR % k == i' "$FILE" >"$WORK/part$k.$i.xml"; done
done
# side_by_side K -> CPU-s per M events of K paced processes on CPU 1 together.
side_by_side() {
  local k="$1" i src total=0 user sys
  for i in $(seq 0 $((k - 1))); do
    src="$FILE"
    [[ "$k" == 1 ]] || src="$WORK/part$k.$i.xml"
    rm -f "$WORK/pipe$i.xml"
    mkfifo "$WORK/pipe$i.xml"
    taskset -c 0 python3 bench/pace.py "$src" "$WORK/pipe$i.xml" "$((PACE / k))" &
    backtest "$WORK/pipe$i.xml" "$WORK/k$i.time" &
  done
  wait
  for i in $(seq 0 $((k - 1))); do
    read -r user sys <"$WORK/k$i.time"
    total="$(echo "$total + $user + $sys - $E_USER - $E_SYS" | bc -l)"
  done
  printf '%.2f' "$(echo "$total * 1000000 / $EVENTS" | bc -l)"
}
echo "round  1_process  2_side_by_side  3_side_by_side   (CPU-s per M events, $EVENTS events)"
for r in $(seq "$ROUNDS"); do
  echo "$r  $(side_by_side 1)  $(side_by_side 2)  $(side_by_side 3)"
done
