import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // The JSON report feeds the workspace's closing line (tools/scripts/run-tests.mjs).
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
