// Runs with every test file of this package (vitest setupFiles): a TldSecurityWarning that the test did not take
// with takeSecurityWarnings() fails that test. The fixtures pin maps 0600, as users must, so a warning means a
// loose pin crept into a test or the check misfires. Node does not print these warnings in the test processes:
// each one is a test failure or an expected result, never noise in the output that readers learn to ignore.
import { afterEach, beforeEach, expect } from 'vitest';

const STATE = Symbol.for('@tld/userspace/test/security-warnings');
type State = { emitted: Error[] };
const global = globalThis as { [STATE]?: State };

/** Installed once per process, even if this file runs for several test files in one process. */
function state(): State {
  const installed = global[STATE];
  if (installed) return installed;
  const created: State = { emitted: [] };
  // Node prints warnings through its own 'warning' listener: keep printing every other warning through it.
  for (const print of process.listeners('warning')) {
    process.off('warning', print);
    process.on('warning', (warning) => {
      if (warning.name !== 'TldSecurityWarning') print(warning);
    });
  }
  process.on('warning', (warning) => {
    if (warning.name === 'TldSecurityWarning') created.emitted.push(warning);
  });
  global[STATE] = created;
  return created;
}
const { emitted } = state();

/** process.emitWarning() delivers on a later tick: let it arrive. */
function delivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The TldSecurityWarnings this test has emitted so far; taking them is what makes them expected. */
export async function takeSecurityWarnings(): Promise<Error[]> {
  await delivered();
  return emitted.splice(0);
}

beforeEach(() => {
  emitted.length = 0;
});

afterEach(async () => {
  await delivered();
  const unexpected = emitted.splice(0).map((warning) => `${(warning as { code?: string }).code}: ${warning.message}`);
  expect(unexpected, 'this test emitted a TldSecurityWarning it did not expect').toEqual([]);
});
