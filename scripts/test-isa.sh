#!/usr/bin/env bash
# npm run test:isa: the vitest suite again on the other kernel paths (scalar
# forced, AVX2 capped), then mixed precision with AVX512_BF16 forced on, and
# the bfloat16 kernel against its twin where CPUID hides AVX512_BF16.
# Files that never reach a kernel the ISA picks are left out of the reruns:
# the README's code (type checks; its quick start also runs in npm test),
# process lifecycle (thread hand-off and exit, not arithmetic) and the
# loader fuzzing (file parsing). They took ~40 s of each pass in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
same_on_every_isa=(--exclude test/readme.test.ts --exclude test/lifecycle.test.ts --exclude test/fuzz-files.test.ts)
FERRO_NN_FORCE_SCALAR=1 npx vitest run "${same_on_every_isa[@]}"
FERRO_NN_ISA=avx2 npx vitest run "${same_on_every_isa[@]}"
FERRO_NN_BF16=vdpbf16ps npx vitest run test/mixed-precision.test.ts
# Some KVM guests hide AVX512_BF16 from CPUID on CPUs that run it, and the
# Rust suite then skips VDPBF16PS. A child process that forces it tells
# whether it runs (SIGILL where it does not); if so, its tests run forced.
if cargo test -q -p ferro-nn-core --lib -- --ignored --exact kernels::bf16::tests::vdpbf16ps_runs_here >/dev/null 2>&1; then
  FERRO_NN_TEST_VDPBF16PS=1 cargo test -q -p ferro-nn-core --lib kernels::bf16
else
  echo "test:isa: this CPU does not run VDPBF16PS; its kernel was not tested"
fi
