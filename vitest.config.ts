import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: seeds and thread counts are process-wide.
    pool: 'forks',
    // --expose-gc: the memory tests collect garbage on cue.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
