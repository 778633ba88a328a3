#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, default 60) and summarises.
#   fuzz/run_all.sh                 # all targets, 60 s each
#   FUZZ_SECONDS=300 fuzz/run_all.sh spl_parse eval_expr
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz
# passes (sanitizer, coverage). Installs cargo-fuzz when missing; seeds the corpora when empty.
# Crashing inputs land in fuzz/artifacts/<target>/; the exit code is 1 if any target failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
# Extra libFuzzer flags, e.g. FUZZ_FLAGS="-jobs=2 -workers=2".
extra="${FUZZ_FLAGS:-}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cargo install cargo-fuzz)" >&2
    cargo install cargo-fuzz || { echo "error: cannot install cargo-fuzz" >&2; exit 2; }
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

if [ ! -d corpus ] || [ -z "$(find -L corpus -type f -print -quit 2>/dev/null)" ]; then
    ./seed_corpus.sh
fi

cargo fuzz build -O || exit 2

failed=()
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s" >&2
    start=$(date +%s)
    # -rss_limit_mb: a leak or runaway allocation is a finding too; -timeout: a hang is.
    # shellcheck disable=SC2086
    if cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 $extra >"logs/$t.log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1)
    # Slow inputs are findings too (libFuzzer writes them as artifacts/<t>/slow-unit-*).
    slow=$(grep -o 'Slowest unit: [0-9]* s' "logs/$t.log" | tail -1)
    printf '%-14s %-6s %4ss %10s execs  %s  %s\n' "$t" "$status" "$(( $(date +%s) - start ))" "${runs:-?}" "${cov:-}" "${slow:-}"
    if [ "$status" = FAILED ]; then
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "logs/$t.log" | head -5 | sed 's/^/    /'
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/logs/)" >&2
    exit 1
fi
