import { defineConfig } from 'vitest/config';

// forks: each test file in its own process, so one file's metadata page (one per process) starts empty and
// worker_threads spawned by a test are real OS threads of that process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // The JSON report feeds the workspace's closing line (tools/scripts/run-tests.mjs).
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
