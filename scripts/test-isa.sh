#!/usr/bin/env bash
# npm run test:isa: the vitest suite again on the other kernel paths (scalar
# forced, AVX2 capped), then mixed precision with AVX512_BF16 forced on.
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
