#!/usr/bin/env bash
# npm run fuzz: the property tests with many more cases, then the libFuzzer
# targets in fuzz/ for a while each (they need nightly Rust; cargo-fuzz is
# installed from crates.io when missing).
#   PROPTEST_CASES (20000), FAST_CHECK_RUNS (5000), FUZZ_SECONDS per target (30)
set -euo pipefail
cd "$(dirname "$0")/.."

PROPTEST_CASES="${PROPTEST_CASES:-20000}" cargo test --release -q -p ferro-nn-core --test fuzz_props
FAST_CHECK_RUNS="${FAST_CHECK_RUNS:-5000}" npx vitest run test/fuzz.test.ts test/fuzz-files.test.ts

if cargo +nightly --version >/dev/null 2>&1; then
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
  for target in idx_header model_ops toolkit_ops; do
    echo "fuzz: libFuzzer on $target for ${FUZZ_SECONDS:-30}s"
    cargo +nightly fuzz run "$target" -- -max_total_time="${FUZZ_SECONDS:-30}" 2>&1 | tail -n 1
  done
else
  echo "fuzz: no nightly Rust toolchain, so the libFuzzer targets were skipped (rustup toolchain install nightly)"
fi
