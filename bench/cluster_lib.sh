# Shared by bench/cluster.sh and bench/cluster_callgrind.sh: the tools, the day the corpus
# covers, and small helpers. Sourced after ROOT is set.
ESCU="${ESCU:-$ROOT/../shared/escu}"
PYTHON="${PYTHON:-${VIGIL_TEST_PYTHON:-python3}}"
TANSU="${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VIGIL="$TARGET/release/vigil"
BENCHGEN="$TARGET/release/benchgen"
DAY_FROM=2026-03-02T00:00:00Z
DAY_TO=2026-03-03T00:00:00Z
PARTITIONS=6

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# metric PORT NAME -> the value of a metric line of a role's /metrics (0 when absent).
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1==n {v=$2} END {print v+0}'; }
# cluster_config FILE BROKER_PORT SCHEDULER_LINE: a config for the day, as both benches use it
# (Tansu 0.6 cannot fetch from inside a record batch: see crates/cluster/src/config.rs).
cluster_config() {
  {
    printf '[cluster]\nbrokers = "127.0.0.1:%s"\npartitions = %s\nfrom = "%s"\nto = "%s"\n' "$2" "$PARTITIONS" "$DAY_FROM" "$DAY_TO"
    printf 'grace_secs = 0\ncheckpoint_records = 10000\nresume_from_partition_start = true\n'
    [[ -z "${FETCH_WAIT_MS:-}" ]] || printf 'fetch_wait_ms = %s\n' "$FETCH_WAIT_MS"
    printf '\n[scheduler]\n%s\n' "$3"
  } >"$1"
}
# account PID -> "user_s system_s minor_faults voluntary_switches involuntary_switches" of a live
# process, summed over its live threads (where a worker's CPU beyond backtest's goes).
account() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%s %s %s", $14 / hz, $15 / hz, $10}' "/proc/$1/stat"
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {printf " %d %d\n", v, n}'
}
# per_m_events "A B C D E" "a b c d e" EVENTS -> the five differences per million events.
per_m_events() {
  python3 -c 'import sys; a, b, n = sys.argv[1].split(), sys.argv[2].split(), float(sys.argv[3]); print(" ".join("%.1f" % ((float(y) - float(x)) * 1e6 / n) for x, y in zip(a, b)))' "$1" "$2" "$3"
}
