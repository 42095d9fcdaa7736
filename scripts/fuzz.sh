#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ in turn, one at a time, then minimises each corpus.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Only a stable toolchain is assumed:
# RUSTC_BOOTSTRAP=1 lets it take the nightly flags cargo-fuzz passes (sanitizer coverage).
# Logs (with libFuzzer's final stats: runs, execs per second, coverage) go to $FUZZ_LOGS
# (default /var/tmp/fw-fuzz-logs). Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail

secs="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(meta config_file config_env nat_save restore)
fi
logs="${FUZZ_LOGS:-/var/tmp/fw-fuzz-logs}"
mkdir -p "$logs"
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

status=0
for t in "${targets[@]}"; do
    echo "== $t: ${secs}s"
    if ! nice -n 10 cargo fuzz run -O "$t" -- \
        -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
        >"$logs/$t.log" 2>&1; then
        echo "$t: FAILED (see $logs/$t.log and fuzz/artifacts/$t/)"
        status=1
        continue
    fi
    grep -E '^#[0-9]+ *DONE|^stat::' "$logs/$t.log" || true
    nice -n 10 cargo fuzz cmin -O "$t" -- -max_len=8192 >"$logs/$t.cmin.log" 2>&1
    echo "$t: corpus $(find "corpus/$t" -type f | wc -l) files after cmin"
done
exit "$status"
