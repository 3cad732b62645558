#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, default 20) from the
# committed seeds. Any crash fails the run; libFuzzer leaves the input under
# fuzz/artifacts/<target>/, which then becomes a regression test beside the parser.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-20}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi
cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  echo "fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=0 2>&1 | grep -E "^(Done|==|SUMMARY|.*panicked)" || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz target $target crashed; inputs in fuzz/artifacts/$target" >&2
    exit 1
  fi
done
