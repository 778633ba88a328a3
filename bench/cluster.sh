#!/usr/bin/env bash
# Cluster benchmark (issue 17): a day of benchgen events preloaded into a 6-partition events
# topic (Tansu, memory storage, loopback) by kafka-python, then 1, 2 or 3 workers and one
# reducer started; measured until the reducer finished the day's 24 hourly runs.
# Reports per worker count: events/s (events / wall time from the moment the workers have
# planned their detections, the topic already filled, to the reducer's last run), CPU-seconds per million events
# (the workers' user+system time over that span), the reducer's CPU (start-up included) and its
# work per window (merge time, partial sizes from /metrics), the checkpoints the workers wrote; and the same corpus through
# `vigil backtest` in one process (its start-up, measured over no events, left out). Not a test:
# prints a table (docs/performance.md).
#
# Usage: bench/cluster.sh
# Environment (all optional):
#   EVENTS_MB    corpus size in MB (default 60, about 43 000 XmlWinEventLog events)
#   MAX_GAP_US   largest gap between two events (default 2400000: about 3 000 events an hour;
#                a quarter of it puts 4x the events in every window, for per-window costs)
#   WORKERS      worker counts to run (default "1 2 3")
#   BACKTESTS    backtest runs per round, their median taken (default 3)
#   ROUNDS       rounds (default 1); each runs backtest, then every worker count; x_backtest
#                compares a worker run with its round's backtest; medians are printed at the end
#   DETECTIONS   seed (the built-in one) | escu (every ready ESCU detection in $ESCU)
#   ESCU         ESCU content directory (default: ../shared/escu)
#   TANSU        the broker binary (default: tansu on PATH or ~/.cargo/bin/tansu)
#   PYTHON       a python with kafka-python (default: $VIGIL_TEST_PYTHON, else python3)
#   SKIP_BUILD   1: use the existing release binaries
#   KEEP         1: keep the work directory (printed)
#   FETCH_WAIT_MS  the workers' `fetch_wait_ms` (default: the config's default)
#   PIN          1: the broker, the producer and the reducer on CPU 0, the workers and backtest
#                on CPU 1 (taskset): as on a deployment whose brokers and producers are other
#                machines, a worker's caches are not shared with them
#   TOGETHER     1: start the workers on the empty topic and produce the events once every
#                worker holds partitions (no partition read by one worker, then moved to
#                another as the others join); wall time then includes producing. Each round
#                then also runs backtest fed as the workers are, through a pipe one chunk a
#                second (bench/pace.py): x_paced compares a worker with that single process
#   PACE_MBPS    that pipe's rate, MB a second (default 4: kafka-python's producing rate here)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/cluster_lib.sh
source "$ROOT/bench/cluster_lib.sh"
EVENTS_MB="${EVENTS_MB:-60}"
WORKERS="${WORKERS:-1 2 3}"
ROUNDS="${ROUNDS:-1}"
DETECTIONS="${DETECTIONS:-seed}"

log() { echo "bench/cluster: $*" >&2; }
# Where each kind of process runs (PIN=1; default: anywhere).
ON_OTHERS=()
ON_WORKERS=()
if [[ "${PIN:-0}" == 1 ]]; then
  ON_OTHERS=(taskset -c 0)
  ON_WORKERS=(taskset -c 1)
fi

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building release binaries"
  cargo build --release -q -p vigil -p vigil-benchgen
fi
[[ -x "$TANSU" ]] || { log "tansu not found (cargo install tansu --locked --features dynostore)"; exit 1; }
"$PYTHON" -c 'import kafka' || { log "kafka-python not importable by $PYTHON"; exit 1; }

WORK="$(mktemp -d /tmp/vigil-cluster-bench.XXXXXX)"
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# cpu_secs PID -> user+system seconds of a live process.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }

# Events 1 us .. 2.4 s (MAX_GAP_US) apart from 2026-03-02T00:00 (about 3 000 an hour), a seed
# true positive every 500th.
CORPUS="$WORK/corpus"
"$BENCHGEN" --out "$CORPUS" --size-mb "$EVENTS_MB" --files 1 --max-gap-us "${MAX_GAP_US:-2400000}" --tp-every 500 >"$WORK/corpus.manifest"
FILE="$CORPUS/corpus_000.xml"
EVENTS="$(sed -n 's/^events=\([0-9]*\).*/\1/p' "$WORK/corpus.manifest")"
log "corpus: $EVENTS events, $(du -h "$FILE" | cut -f1); last at $(tail -1 "$FILE" | grep -o "SystemTime='[^']*'")"

CONTENT=()
SCHED=""
case "$DETECTIONS" in
  seed) SCHED='enable = ["Windows MSIExec Remote Download"]' ;;
  escu)
    CONTENT=(--content "$ESCU")
    SCHED="$("$VIGIL" content list "${CONTENT[@]}" --format jsonl 2>/dev/null |
      python3 -c 'import json,sys; n=[json.loads(l)["name"] for l in sys.stdin if json.loads(l)["ready"]=="ready"]; print("enable = " + json.dumps(n))')"
    ;;
  *) log "DETECTIONS must be seed or escu"; exit 2 ;;
esac

# One process: backtest over the same file, the same detections.
ENABLE_ARGS=()
if [[ "$DETECTIONS" == seed ]]; then ENABLE_ARGS=(--enable "Windows MSIExec Remote Download"); fi
if [[ "$DETECTIONS" == escu ]]; then
  mapfile -t NAMES < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1].split("=",1)[1])))' "$SCHED")
  for n in "${NAMES[@]}"; do ENABLE_ARGS+=(--enable "$n"); done
fi
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# backtest_once: the same file and detections through `vigil backtest` in one process; its
# start-up (loading and planning the content), measured over no events, is left out. Prints its
# row and sets BT_PER_M (CPU-seconds per million events).
backtest_once() {
  : >"$WORK/empty.xml"
  local cpus=() walls=() i cpu wall
  for i in $(seq "${BACKTESTS:-3}"); do
    "${ON_WORKERS[@]}" /usr/bin/time -f '%e %U %S %R %w %c' -o "$WORK/single.time" \
      "$VIGIL" backtest --from "$DAY_FROM" --to "$DAY_TO" "${CONTENT[@]}" "${ENABLE_ARGS[@]}" --format jsonl "$FILE" \
      >"$WORK/single.out" 2>"$WORK/single.log"
    read -r S_WALL S_USER S_SYS S_MINFLT S_VCS S_IVCS <"$WORK/single.time"
    "${ON_WORKERS[@]}" /usr/bin/time -f '%e %U %S %R %w %c' -o "$WORK/empty.time" \
      "$VIGIL" backtest --from "$DAY_FROM" --to "$DAY_TO" "${CONTENT[@]}" "${ENABLE_ARGS[@]}" --format jsonl "$WORK/empty.xml" >/dev/null 2>&1
    read -r E_WALL E_USER E_SYS E_MINFLT E_VCS E_IVCS <"$WORK/empty.time"
    log "backtest per M events (user_s system_s minor_faults voluntary_switches involuntary_switches): $(per_m_events \
      "$E_USER $E_SYS $E_MINFLT $E_VCS $E_IVCS" "$S_USER $S_SYS $S_MINFLT $S_VCS $S_IVCS" "$EVENTS")"
    cpus+=("$(echo "$S_USER + $S_SYS - $E_USER - $E_SYS" | bc -l)")
    walls+=("$(echo "$S_WALL - $E_WALL" | bc -l)")
  done
  # The median of BACKTESTS runs: one second of CPU moves by more than the 10 % compared.
  cpu="$(printf '%s\n' "${cpus[@]}" | median)"
  wall="$(printf '%s\n' "${walls[@]}" | median)"
  BT_PER_M="$(echo "$cpu * 1000000 / $EVENTS" | bc -l)"
  printf 'backtest    %s  %.1f  %.0f  %.2f  %.1f  1.00  -  -  -  -  -  -\n' "$EVENTS" "$wall" "$(echo "$EVENTS / $wall" | bc -l)" "$cpu" "$BT_PER_M"
  echo "backtest $BT_PER_M 1 -" >>"$WORK/summary"
  [[ "${TOGETHER:-0}" != 1 ]] || paced_once
}
# paced_once: backtest fed through a pipe one chunk a second, as a trickle-fed worker is (its
# wake-ups on caches other processes used meanwhile cost a single process as much). Sets
# PACED_PER_M, the median of BACKTESTS runs; start-up is left out with backtest_once's last
# run over no events (E_USER, E_SYS), so it runs after backtest_once.
paced_once() {
  local cpus=() i
  for i in $(seq "${BACKTESTS:-3}"); do
    rm -f "$WORK/paced.xml"
    mkfifo "$WORK/paced.xml"
    "${ON_OTHERS[@]}" python3 bench/pace.py "$FILE" "$WORK/paced.xml" "$(echo "${PACE_MBPS:-4} * 1000000 / 1" | bc)" &
    "${ON_WORKERS[@]}" /usr/bin/time -f '%e %U %S' -o "$WORK/paced.time" \
      "$VIGIL" backtest --from "$DAY_FROM" --to "$DAY_TO" "${CONTENT[@]}" "${ENABLE_ARGS[@]}" --format jsonl "$WORK/paced.xml" \
      >"$WORK/paced.out" 2>"$WORK/paced.log"
    wait
    read -r P_WALL P_USER P_SYS <"$WORK/paced.time"
    cpus+=("$(echo "$P_USER + $P_SYS - $E_USER - $E_SYS" | bc -l)")
  done
  local cpu
  cpu="$(printf '%s\n' "${cpus[@]}" | median)"
  PACED_PER_M="$(echo "$cpu * 1000000 / $EVENTS" | bc -l)"
  printf 'paced       %s  %.1f  -  %.2f  %.1f  %.2f  -  -  -  -  -  1.00\n' "$EVENTS" "$P_WALL" "$cpu" "$PACED_PER_M" "$(echo "$PACED_PER_M / $BT_PER_M" | bc -l)"
  echo "paced $PACED_PER_M $(echo "$PACED_PER_M / $BT_PER_M" | bc -l) 1" >>"$WORK/summary"
}

printf 'mode        events  wall_s  events_per_s  cpu_s  cpu_s_per_M  x_backtest  reducer_cpu_s  merge_ms_per_run  partial_bytes_mean  partials  checkpoints  x_paced\n'
: >"$WORK/summary"
for ROUND in $(seq "$ROUNDS"); do
[[ "$ROUNDS" == 1 ]] || log "round $ROUND of $ROUNDS"
backtest_once
for N in $WORKERS; do
  RUN="$WORK/r$ROUND-w$N"  # a fresh directory per run: a reducer keeps its finished runs
  mkdir -p "$RUN"
  BPORT="$(free_port)"
  "${ON_OTHERS[@]}" "$TANSU" broker --listener-url "tcp://127.0.0.1:$BPORT" --advertised-listener-url "tcp://127.0.0.1:$BPORT" \
    --storage-engine memory://tansu/ >"$RUN/tansu.out" 2>"$RUN/tansu.log" &
  PIDS+=($!)
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null && break; sleep 0.1; done
  cluster_config "$RUN/vigil.toml" "$BPORT" "$SCHED"

  produce() {
    local pstart produced sent
    pstart="$(date +%s.%N)"
    sent="$("${ON_OTHERS[@]}" "$PYTHON" bench/kafka_produce.py "127.0.0.1:$BPORT" vigil-events "$PARTITIONS" xml "$FILE")"
    produced="$(date +%s.%N)"
    # A record stamped the next day in every partition: the day's last windows close.
    "$PYTHON" bench/kafka_produce.py "127.0.0.1:$BPORT" vigil-events "$PARTITIONS" heartbeat "$(date -d "$DAY_TO + 30 min" +%s)000" >/dev/null
    log "$N worker(s): $sent records produced in $(echo "$produced - $pstart" | bc -l | cut -c1-5) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
  }
  [[ "${TOGETHER:-0}" == 1 ]] || produce
  RPORT="$(free_port)"
  "${ON_OTHERS[@]}" "$VIGIL" serve --role reducer --config "$RUN/vigil.toml" "${CONTENT[@]}" --data-dir "$RUN/reducer" \
    --listen "127.0.0.1:$RPORT" --now "$DAY_FROM" 2>"$RUN/reducer.log" &
  REDUCER=$!
  PIDS+=($REDUCER)
  WPIDS=()
  WPORTS=()
  for i in $(seq "$N"); do
    WPORT="$(free_port)"
    "${ON_WORKERS[@]}" "$VIGIL" serve --role worker --config "$RUN/vigil.toml" "${CONTENT[@]}" --data-dir "$RUN/worker$i" \
      --listen "127.0.0.1:$WPORT" --now "$DAY_FROM" 2>"$RUN/worker$i.log" &
    WPIDS+=($!)
    WPORTS+=("$WPORT")
    PIDS+=($!)
  done
  # Start-up (loading and planning the content) is not per event: each worker's CPU is read
  # once it has planned its detections and joins the group; the clock starts then.
  BASE=0
  for i in "${!WPIDS[@]}"; do
    for _ in $(seq 6000); do grep -q "vigil worker: group" "$RUN/worker$((i + 1)).log" && break; sleep 0.05; done
  done
  if [[ "${TOGETHER:-0}" == 1 ]]; then
    # Every worker holds partitions of the still empty topic (the group has settled) before
    # the events arrive, so none reads partitions that move to another later.
    for i in "${!WPIDS[@]}"; do
      for _ in $(seq 6000); do grep -q "vigil worker: partition" "$RUN/worker$((i + 1)).log" && break; sleep 0.05; done
    done
    sleep 3
  fi
  ACCOUNTS=()
  for i in "${!WPIDS[@]}"; do
    BASE="$(echo "$BASE + $(cpu_secs "${WPIDS[$i]}")" | bc -l)"
    ACCOUNTS+=("$(account "${WPIDS[$i]}")")
  done
  START="$(date +%s.%N)"
  [[ "${TOGETHER:-0}" != 1 ]] || produce
  for _ in $(seq 6000); do
    [[ "$(metric "$RPORT" vigil_cluster_runs_finished_total)" -ge 24 ]] 2>/dev/null && break
    kill -0 "$REDUCER" 2>/dev/null || { cat "$RUN/reducer.log" >&2; exit 1; }
    sleep 0.1
  done
  END="$(date +%s.%N)"
  WCPU="$(echo "0 - $BASE" | bc -l)"
  PBYTES=0
  PCOUNT=0
  CHECKPOINTS=0
  for i in "${!WPIDS[@]}"; do
    WCPU="$(echo "$WCPU + $(cpu_secs "${WPIDS[$i]}")" | bc -l)"
    log "worker $((i + 1)) of $N per M events (user_s system_s minor_faults voluntary_switches involuntary_switches): $(per_m_events \
      "${ACCOUNTS[$i]}" "$(account "${WPIDS[$i]}")" "$EVENTS")"
    PBYTES="$(echo "$PBYTES + $(metric "${WPORTS[$i]}" vigil_cluster_partial_bytes_sum)" | bc -l)"
    PCOUNT="$(echo "$PCOUNT + $(metric "${WPORTS[$i]}" vigil_cluster_partial_bytes_count)" | bc -l)"
    CHECKPOINTS="$(echo "$CHECKPOINTS + $(metric "${WPORTS[$i]}" vigil_cluster_checkpoints_written_total)" | bc -l)"
  done
  RCPU="$(cpu_secs "$REDUCER")"
  MERGE_S="$(metric "$RPORT" vigil_cluster_merge_seconds_sum)"
  RUNS="$(metric "$RPORT" vigil_cluster_runs_finished_total)"
  WALL="$(echo "$END - $START" | bc -l)"
  PER_M="$(echo "$WCPU * 1000000 / $EVENTS" | bc -l)"
  X_BT="$(echo "$PER_M / $BT_PER_M" | bc -l)"
  X_PACED="-"
  [[ "${TOGETHER:-0}" != 1 ]] || X_PACED="$(printf '%.2f' "$(echo "$PER_M / $PACED_PER_M" | bc -l)")"
  echo "$N-worker $PER_M $X_BT $X_PACED" >>"$WORK/summary"
  printf '%s-worker%s  %s  %.1f  %.0f  %.2f  %.1f  %.2f  %.2f  %.2f  %.0f  %.0f  %.0f  %s\n' "$N" "$([[ $N == 1 ]] && echo ' ' || echo s)" "$EVENTS" "$WALL" \
    "$(echo "$EVENTS / $WALL" | bc -l)" "$WCPU" "$PER_M" "$X_BT" "$RCPU" \
    "$(echo "$MERGE_S * 1000 / $RUNS" | bc -l)" "$(echo "$PBYTES / ($PCOUNT + ($PCOUNT == 0))" | bc -l)" "$PCOUNT" "$CHECKPOINTS" "$X_PACED"
  grep -h "partial(s) merged" "$RUN/reducer.log" | sed 's/^/  /' | sort -t' ' -k4 | tail -3 >&2 || true
  stop_all
done
done
if [[ "$ROUNDS" != 1 ]]; then
  # Medians over the rounds; x_backtest compares each worker run with the backtest of its own
  # round (minutes apart, so a drift of the machine's speed between rounds cancels).
  echo "medians over $ROUNDS rounds:"
  paced_median() {
    local v
    v="$(awk -v m="$1" '$1 == m && $4 != "-" {print $4}' "$WORK/summary")"
    if [[ -z "$v" ]]; then echo -; else printf '%.2f' "$(echo "$v" | median)"; fi
  }
  echo "mode        cpu_s_per_M  x_backtest  x_paced"
  for mode in backtest $([[ "${TOGETHER:-0}" != 1 ]] || echo paced) $(for n in $WORKERS; do echo "$n-worker"; done); do
    printf '%-10s  %.1f  %.2f  %s\n' "$mode" "$(awk -v m="$mode" '$1 == m {print $2}' "$WORK/summary" | median)" \
      "$(awk -v m="$mode" '$1 == m {print $3}' "$WORK/summary" | median)" \
      "$(paced_median "$mode")"
  done
fi
