import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Each test file in its own child process: the addon's per-thread state and the process-wide metadata page
    // must not leak between files, and worker_threads tests need a real Node main thread.
    pool: 'forks',
    testTimeout: 30_000,
    // The JSON report feeds the workspace's closing line (tools/scripts/run-tests.mjs).
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    hookTimeout: 60_000,
  },
});
