#!/usr/bin/env bash
# Vigil benchmark harness. Usage: bench/run.sh [SIZE_MB]   (default 200)
#
# Generates (once, cached) a deterministic synthetic corpus of SIZE_MB per text format with
# crates/benchgen (XmlWinEventLog lines and flat Windows JSON lines: Sysmon 1/3/5/7/10/11/12/13/22
# and Security 4688/4624/4625/4634/4672, one seed true positive per 100k events), builds an EVTX
# corpus by copying the real EVTX files of ../shared/data/real (no EVTX writer exists, see
# docs/performance.md) up to EVTX_MB, then times `vigil hunt` over each:
#   (a) the built-in seed detection alone, (b) every ready ESCU detection (--content $ESCU),
# with --threads 1 and --threads 2, and the evtx crate (evtxparse, and evtx_dump, its CLI) just
# parsing the same EVTX files to XML.
# Prints one table: events/s, MB/s, MB/s per thread, peak RSS, results; then the EVTX ratio.
#
# Environment (all optional):
#   BENCH_DIR   corpus and tool cache          (default: target/bench)
#   EVTX_MB     EVTX corpus size, file bytes   (default: SIZE_MB; ~290 records per MB)
#   ESCU_MB     text corpus size for run (b)   (default: SIZE_MB; the all-detections runs are slower)
#   ESCU        ESCU content directory         (default: ../shared/escu)
#   THREADS     thread counts to run           (default: "1 2")
#   REPEAT      runs per configuration; the median wall time is reported (default: 1)
#   MEMORY_MB   vigil's --memory-mb                                   (default: 32)
#   FORMATS     subset of "xml json evtx"      (default: all three)
#   SKIP_BUILD  set to 1 to use the existing release binaries
#   VIGIL       the vigil binary to measure (default: target/release/vigil)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIZE_MB="${1:-200}"
EVTX_MB="${EVTX_MB:-$(( SIZE_MB > 0 ? SIZE_MB : 1 ))}"
ESCU_MB="${ESCU_MB:-$SIZE_MB}"
ESCU="${ESCU:-$ROOT/../shared/escu}"
THREADS="${THREADS:-1 2}"
# The engine budget: 32 MiB, the fixed default every figure in docs/performance.md was measured
# with (vigil's own default is now derived from the machine's available memory).
MEMORY_MB="${MEMORY_MB:-32}"
FORMATS="${FORMATS:-xml json evtx}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
prepare

EVTX_DUMP="$(command -v evtx_dump || true)"
if [[ -z "$EVTX_DUMP" && -x "$BENCH_DIR/tools/bin/evtx_dump" ]]; then EVTX_DUMP="$BENCH_DIR/tools/bin/evtx_dump"; fi
if [[ -z "$EVTX_DUMP" && " $FORMATS " == *" evtx "* ]]; then
  log "installing evtx_dump (cargo install evtx) into $BENCH_DIR/tools"
  if cargo install -q evtx --version 0.15.1 --locked --root "$BENCH_DIR/tools" >&2; then
    EVTX_DUMP="$BENCH_DIR/tools/bin/evtx_dump"
  else
    log "evtx_dump not available; the EVTX comparison is skipped"
  fi
fi

ROWS=()
FMT='%-5s %-5s %3s %9s %7s %7s %6s %10s %7s %9s %7s %6s %s'
row() { ROWS+=("$(printf "$FMT" "$@")"); }

declare -A SEED_T1_WALL SEED_T1_CPU T1_WALL
run_vigil() { # fmt label dir threads content...
  local fmt="$1" label="$2" dir="$3" t="$4"; shift 4
  local bytes; bytes=$(dir_bytes "$dir")
  read -r wall cpu rss < <(measure "$VIGIL" hunt --threads "$t" --memory-mb "$MEMORY_MB" --format jsonl "$@" "$dir")
  local summary; summary=$(grep '^vigil:' "$BENCH_DIR/last.err" | tail -1 || true)
  local events; events=$(sed -n 's/.*, \([0-9]*\) events read.*/\1/p' <<<"$summary")
  local results; results=$(sed -n 's/.* \([0-9]*\) results\{0,1\} from.*/\1/p' <<<"$summary")
  local dets; dets=$(sed -n 's/.*; \([0-9]*\) detections\{0,1\} run.*/\1/p' <<<"$summary")
  [[ -z "$events" ]] && { log "no summary from vigil for $fmt/$label/t$t: $(tail -3 "$BENCH_DIR/last.err")"; events=0; }
  local mb; mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b/1048576}')
  local w; w=$(awk -v w="$wall" 'BEGIN {print (w < 0.01 ? 0.01 : w)}')
  local c; c=$(awk -v c="$cpu" 'BEGIN {print (c < 0.01 ? 0.01 : c)}')
  local key="$fmt/$label" scale="-"
  [[ "$t" == 1 ]] && T1_WALL[$key]=$w
  [[ "$t" != 1 && -n "${T1_WALL[$key]:-}" ]] && scale=$(awk -v a="${T1_WALL[$key]}" -v b="$w" 'BEGIN {printf "%.2fx", a/b}')
  row "$fmt" "$label" "$t" "$events" "$mb" "$wall" "$cpu" \
    "$(awk -v e="$events" -v w="$w" 'BEGIN {printf "%.0f", e/w}')" \
    "$(awk -v m="$mb" -v w="$w" 'BEGIN {printf "%.1f", m/w}')" \
    "$(awk -v m="$mb" -v c="$c" 'BEGIN {printf "%.1f", m/c}')" \
    "$(awk -v r="$rss" 'BEGIN {printf "%.0f", r/1024}')" "$scale" "${results:-?}/${dets:-?}"
  if [[ "$label" == seed && "$t" == 1 ]]; then SEED_T1_WALL[$fmt]=$wall; SEED_T1_CPU[$fmt]=$cpu; fi
  return 0
}

for fmt in $FORMATS; do
  case "$fmt" in
    xml|json) dir=$(corpus "$fmt" "$SIZE_MB"); escu_dir=$(corpus "$fmt" "$ESCU_MB") ;;
    evtx) dir=$(evtx_corpus "$EVTX_MB") || continue; escu_dir="$dir" ;;
    *) log "unknown format $fmt"; continue ;;
  esac
  for t in $THREADS; do
    log "$fmt: seed detection, $t thread(s)"
    run_vigil "$fmt" seed "$dir" "$t"
  done
  if [[ -d "$ESCU" ]]; then
    for t in $THREADS; do
      log "$fmt: all ready ESCU detections, $t thread(s)"
      run_vigil "$fmt" escu "$escu_dir" "$t" --content "$ESCU"
    done
  else
    log "no ESCU content at $ESCU: runs (b) skipped"
  fi
done

EVTX_LINES=()
if [[ " $FORMATS " == *" evtx "* && -n "${SEED_T1_CPU[evtx]:-}" ]]; then
  dir=$(evtx_corpus "$EVTX_MB")
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/(b<0.01?0.01:b)}'; }
  vcpu="${SEED_T1_CPU[evtx]}"
  log "evtxparse (evtx crate, XML rendering, one process, one thread) over the EVTX corpus"
  read -r wall cpu rss < <(measure "$TARGET/release/evtxparse" "$dir")
  EVTX_LINES+=("evtx crate parse (evtxparse, 1 thread): wall ${wall}s cpu ${cpu}s; vigil hunt --threads 1 (seed) cpu ${vcpu}s: ratio $(ratio "$vcpu" "$cpu")")
  if [[ -n "$EVTX_DUMP" ]]; then
    log "evtx_dump -t 1 -o xml, once per file, over the EVTX corpus"
    read -r wall cpu rss < <(measure bash -c 'for f in "$1"/*.evtx; do "$2" -t 1 -o xml "$f"; done 2>/dev/null' _ "$dir" "$EVTX_DUMP")
    EVTX_LINES+=("evtx_dump -t 1 -o xml (one process per file, $(find "$dir" -name '*.evtx' | wc -l) files): wall ${wall}s cpu ${cpu}s: ratio $(ratio "$vcpu" "$cpu")")
  fi
fi

echo
echo "Vigil benchmark: SIZE_MB=$SIZE_MB EVTX_MB=$EVTX_MB ESCU_MB=$ESCU_MB REPEAT=$REPEAT on $(nproc) core(s), $(uname -m), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
printf "$FMT\n" format dets thr events MB wall_s cpu_s events/s MB/s MB/cpu_s RSS_MB scale results/detections
printf '%s\n' "${ROWS[@]}"
for l in "${EVTX_LINES[@]}"; do echo "$l"; done
echo "MB/cpu_s = input MB per CPU-second (user+sys): throughput per core, robust to other load."
echo "scale = wall(1 thread)/wall(N threads). EVTX MB are file bytes (real files hold empty chunk space)."
