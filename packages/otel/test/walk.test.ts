// On Node.js 24 and 26, run() takes the async-context walk: the span ids TldContextManager publishes live in the
// record of the run() it makes, and BPF reaches them by walking from the thread to the running context.
// walk-child.mjs reads them there (the task iterator behind `tld dump`) at five points of interleaved spans.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bpfRequired, bpfSupport, runWalkChild, walkNodes } from '@tld/testkit';

const nodes = walkNodes();
const ZERO = { trace: '0'.repeat(32), span: '0'.repeat(16), from: 'page' };

describe.skipIf(!bpfSupport().supported)('TldContextManager with the async-context walk', () => {
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const node of nodes) {
    it(`${node.split('/').find((p) => p.startsWith('v'))}: BPF reads the active span's ids from the run's record`, () => {
      const { status, stderr, result } = runWalkChild<{
        asyncContext: string;
        readings: number;
        mismatches: unknown[];
        mismatchCount: number;
        outside: unknown;
      }>(node, fileURLToPath(new URL('./walk-child.mjs', import.meta.url)));
      expect(status, stderr).toBe(0);
      expect(result.asyncContext).toBe('walk');
      expect(result.readings).toBe(16 * 5);
      expect(result.mismatches).toEqual([]);
      expect(result.mismatchCount).toBe(0);
      expect(result.outside).toEqual(ZERO); // outside every span: the page's (never set) values
    });
  }
});
