# Shared by bench/run.sh and bench/ratios.sh (sourced, not run): building, corpora, timing.
# Expects ROOT; the variables below may be set by the caller or the environment.
BENCH_DIR="${BENCH_DIR:-$ROOT/target/bench}"
REAL="${REAL:-$ROOT/../shared/data/real}"
REPEAT="${REPEAT:-1}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VIGIL="${VIGIL:-$TARGET/release/vigil}"
BENCHGEN="$TARGET/release/benchgen"

log() { echo "bench: $*" >&2; }

# Builds the release binaries (unless SKIP_BUILD=1) and installs GNU time when missing.
prepare() {
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries"
    cargo build --release -q -p vigil -p vigil-benchgen
  fi

  if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (for peak RSS)"
    if command -v sudo >/dev/null && [[ $(id -u) != 0 ]]; then SUDO=sudo; else SUDO=; fi
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q time; } >/dev/null || { log "cannot install GNU time"; exit 1; }
  fi
  mkdir -p "$BENCH_DIR"
}

# mix_args MIX -> benchgen's distribution knobs for a named corpus mix (crates/benchgen/src/shape.rs):
#   base      the bench corpus: 400 hosts, 600 users, 6 parents, command-line values in 0..100 000
#   diverse   high diversity: 5 000 hosts, 20 000 users, 300 parents, command-line values in
#             0..10^9, more process creations
#   nearmiss  40 % of process creations are near misses (LOLBins and switches detections key
#             on, in benign uses), twice the process creations of base
mix_args() {
  case "$1" in
    base) ;;
    diverse) echo "--seed 7 --hosts 5000 --users 20000 --parents 300 --cmd-values 1000000000 --mix 1:150,3:160,5:40,7:220,10:40,11:110,12:30,13:90,22:50,4688:60,4624:30,4625:5,4634:20,4672:5" ;;
    nearmiss) echo "--seed 9 --near-miss 400 --mix 1:180,3:150,5:40,7:200,10:40,11:100,12:30,13:90,22:50,4688:100,4624:30,4625:5,4634:20,4672:5" ;;
    *) log "unknown mix $1 (base, diverse, nearmiss)"; return 1 ;;
  esac
}

# corpus FORMAT MB [MIX] -> prints the directory; generated once per (format, size, mix).
corpus() {
  local fmt="$1" mb="$2" mix="${3:-base}" dir
  if [[ "$mix" == base ]]; then dir="$BENCH_DIR/$fmt-${mb}mb"; else dir="$BENCH_DIR/$fmt-$mix-${mb}mb"; fi
  if [[ ! -f "$dir.manifest" ]]; then
    local args; args=$(mix_args "$mix") || return 1
    rm -rf "$dir"
    local files=$(( mb / 25 < 4 ? 4 : mb / 25 ))
    log "generating $mb MB of $fmt ($mix mix) in $dir"
    # shellcheck disable=SC2086 # the knobs are words
    "$BENCHGEN" --out "$dir" --size-mb "$mb" --format "$fmt" --files "$files" $args > "$dir.manifest.tmp"
    mv "$dir.manifest.tmp" "$dir.manifest"
  fi
  echo "$dir"
}

# evtx_corpus MB -> prints the directory: the undamaged real EVTX files, copied until MB is reached.
evtx_corpus() {
  local mb="$1" dir="$BENCH_DIR/evtx-$1mb"
  if [[ ! -f "$dir.manifest" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    local src=()
    while IFS= read -r -d '' f; do src+=("$f"); done < <(find "$REAL/evtx" "$REAL/evtx-attack-samples" -name '*.evtx' \
        ! -name '*bad*' ! -name '*zero*' -print0 | sort -z)
    if [[ ${#src[@]} -eq 0 ]]; then log "no EVTX files under $REAL"; return 1; fi
    local total=0 copy=0 want=$(( mb * 1024 * 1024 ))
    while (( total < want )); do
      for f in "${src[@]}"; do
        (( total >= want )) && break
        local n; n=$(printf '%04d_%s' "$copy" "$(basename "$f" | tr ' ' '_')")
        # Hard links: the bytes are read through the page cache like copies, at no disk cost.
        ln "$f" "$dir/$n" 2>/dev/null || cp "$f" "$dir/$n"
        total=$(( total + $(stat -c %s "$f") )); copy=$(( copy + 1 ))
      done
    done
    echo "files=$copy bytes=$total sources=${#src[@]}" > "$dir.manifest"
  fi
  echo "$dir"
}

dir_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# measure CMD... -> "wall_s cpu_s max_rss_kb": median wall and median CPU (user+sys) time over
# REPEAT runs, and the largest peak RSS. CPU time is what per-core throughput is computed from:
# unlike wall time it is not inflated when other processes compete for the cores.
measure() {
  local walls=() cpus=() rss=0 i line r
  for (( i = 0; i < REPEAT; i++ )); do
    /usr/bin/time -o "$BENCH_DIR/last.time" -f '%e %U %S %M' "$@" > /dev/null 2> "$BENCH_DIR/last.err" || true
    line=$(tail -1 "$BENCH_DIR/last.time")
    walls+=("$(awk '{print $1}' <<<"$line")")
    cpus+=("$(awk '{print $2 + $3}' <<<"$line")")
    r=$(awk '{print $4}' <<<"$line"); (( r > rss )) && rss=$r
  done
  echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median) $rss"
}
