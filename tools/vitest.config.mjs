import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{mjs,ts}'],
    testTimeout: 120_000,
    // The JSON report feeds the workspace's closing line (scripts/run-tests.mjs).
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
