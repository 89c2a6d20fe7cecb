import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The property test and the compiler runs take a few seconds on a loaded 2-core CI machine; the race test
    // sets its own, longer timeout.
    testTimeout: 30_000,
    // The JSON report feeds the workspace's closing line (tools/scripts/run-tests.mjs).
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
