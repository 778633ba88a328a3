#!/usr/bin/env bash
# What detection costs against reading (issue 21). Usage: bench/ratios.sh [SIZE_MB]   (default 200)
#
# For each corpus mix (MIXES; see mix_args in bench/lib.sh) and text format (XmlWinEventLog
# lines, flat JSON lines), a benchgen corpus of SIZE_MB; and the EVTX corpus (the real EVTX files
# copied up to EVTX_MB, as bench/run.sh builds it: its mix is that of the real files, so it is
# measured once). Each is read by `vigil hunt --threads 1` (one core: CPU time is the work) with
#   read   --no-detections: reading, and normalising into the data models the seed detection
#          reads, without running it (the work any detection over those data models needs)
#   seed   the built-in seed detection alone
#   escu   every ready ESCU detection (--content $ESCU)
#   all    every ready ESCU detection and every SigmaHQ rule (--sigma $SIGMA), in one pass
# and the script prints CPU seconds (user+sys, median of REPEAT runs), peak RSS, bytes written to
# temporary files, and the ratios issue 21 sets targets for: escu/seed and all/seed (<= 4) and
# seed/read (<= 1.2). Ratios are taken within one run of this script, so they hold on any machine.
#
# Environment (all optional): MIXES ("base diverse nearmiss"), FORMATS ("xml json evtx"), EVTX_MB
# (SIZE_MB), REPEAT (1), ESCU (../shared/escu), SIGMA (../shared/sigma/rules; "none" skips the
# `all` runs), MEMORY_MB (vigil's default when unset), SKIP_BUILD, VIGIL, BENCH_DIR, REAL: as in
# bench/run.sh. BEFORE: a second vigil binary (an older build kept aside); each corpus is then
# measured with it and with VIGIL back to back, one row each ("before" and "after" in `bin`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIZE_MB="${1:-200}"
EVTX_MB="${EVTX_MB:-$SIZE_MB}"
MIXES="${MIXES:-base diverse nearmiss}"
FORMATS="${FORMATS:-xml json evtx}"
ESCU="${ESCU:-$ROOT/../shared/escu}"
SIGMA="${SIGMA:-$ROOT/../shared/sigma/rules}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
prepare

MEMORY=()
[[ -n "${MEMORY_MB:-}" ]] && MEMORY=(--memory-mb "$MEMORY_MB")

# cost BINARY DIR ARGS... -> "cpu_s rss_mb temp_bytes" of `BINARY hunt --threads 1 ARGS DIR`.
cost() {
  local bin="$1" dir="$2"; shift 2
  local wall cpu rss
  read -r wall cpu rss < <(measure "$bin" hunt -v --threads 1 "${MEMORY[@]}" --format jsonl "$@" "$dir")
  if ! grep -q 'events read' "$BENCH_DIR/last.err"; then
    log "vigil failed on $dir ($*): $(tail -3 "$BENCH_DIR/last.err")"
    exit 1
  fi
  local temp; temp=$(sed -n 's/.*; \([0-9]*\) bytes written to temporary files.*/\1/p' "$BENCH_DIR/last.err" | tail -1)
  echo "$cpu $(awk -v r="$rss" 'BEGIN {printf "%.0f", r/1024}') ${temp:-0}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/(b<0.01?0.01:b)}'; }

FMT='%-8s %-5s %-6s %6s %6s %6s %6s %9s %9s %9s %8s %7s %7s\n'
ROWS=()
measure_one() { # mix format dir label binary
  local mix="$1" fmt="$2" dir="$3" label="$4" bin="$5"
  local mb; mb=$(awk -v b="$(dir_bytes "$dir")" 'BEGIN {printf "%.0f", b/1048576}')
  log "$mix/$fmt ($label): read only"; read -r c_read r_read t_read < <(cost "$bin" "$dir" --no-detections)
  log "$mix/$fmt ($label): seed detection"; read -r c_seed r_seed t_seed < <(cost "$bin" "$dir")
  log "$mix/$fmt ($label): all ready ESCU detections"; read -r c_escu r_escu t_escu < <(cost "$bin" "$dir" --content "$ESCU")
  local c_all=- r_all=0 t_all=0 all_ratio=-
  if [[ "$SIGMA" != none ]]; then
    log "$mix/$fmt ($label): ESCU and Sigma"; read -r c_all r_all t_all < <(cost "$bin" "$dir" --content "$ESCU" --sigma "$SIGMA")
    all_ratio=$(ratio "$c_all" "$c_seed")
  fi
  local rss=$(( r_all > r_escu ? r_all : r_escu ))
  local temp=$(( t_all > t_escu ? t_all : t_escu ))
  ROWS+=("$(printf "$FMT" "$mix" "$fmt" "$label" "$c_read" "$c_seed" "$c_escu" "$c_all" "$(ratio "$c_seed" "$c_read")" \
    "$(ratio "$c_escu" "$c_seed")" "$all_ratio" "$rss" "$(awk -v t="$temp" -v m="$mb" 'BEGIN {printf "%.1f", 100*t/1048576/(m<1?1:m)}')" "$mb")")
}
measure_corpus() { # mix format dir
  if [[ -n "${BEFORE:-}" ]]; then measure_one "$@" before "$BEFORE"; fi
  measure_one "$@" "$([[ -n "${BEFORE:-}" ]] && echo after || echo -)" "$VIGIL"
}

for fmt in $FORMATS; do
  case "$fmt" in
    xml|json)
      for mix in $MIXES; do
        dir=$(corpus "$fmt" "$SIZE_MB" "$mix")
        measure_corpus "$mix" "$fmt" "$dir"
      done
      ;;
    evtx)
      dir=$(evtx_corpus "$EVTX_MB") || continue
      measure_corpus real "$fmt" "$dir"
      ;;
    *) log "unknown format $fmt" ;;
  esac
done

echo
echo "Vigil cost ratios: SIZE_MB=$SIZE_MB EVTX_MB=$EVTX_MB REPEAT=$REPEAT ${MEMORY_MB:+MEMORY_MB=$MEMORY_MB }on $(nproc) core(s), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "$FMT" mix format bin read_s seed_s escu_s all_s seed/read escu/seed all/seed RSS_MB temp_% MB
printf '%s\n' "${ROWS[@]}"
echo "CPU seconds (user+sys), --threads 1. read: --no-detections (the seed's data models, no detection run); all: ESCU + Sigma in one pass."
echo "Targets (issue 21): escu/seed and all/seed <= 4, seed/read <= 1.2; RSS_MB (the larger of escu and all) < 300; temp_% < 10."
