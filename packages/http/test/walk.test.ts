// On Node.js 24 and 26, run() takes the async-context walk: nothing is copied into the page at context switches,
// and BPF finds a request's values by walking from the thread to the running context's record. walk-child.mjs runs
// express and fastify there with interleaved requests and reads each request's route and id through that walk
// (tld_get_context_data) at three points of every handler. The run() each request gets must outlive its
// handler's last await for this to hold.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ContextLayout, bpfRequired, bpfSupport, runWalkChild, walkNodes } from '@tld/testkit';

const nodes = walkNodes();

describe.skipIf(!bpfSupport().supported)('the framework adapters with the async-context walk', () => {
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const node of nodes) {
    it(`${node.split('/').find((p) => p.startsWith('v'))}: BPF reads each request's route and id through the walk`, () => {
      const { status, stderr, result } = runWalkChild<{
        asyncContext: string;
        readings: number;
        mismatches: unknown[];
        mismatchCount: number;
        between: unknown;
      }>(node, fileURLToPath(new URL('./walk-child.mjs', import.meta.url)), {
        ROUTE_BYTES: String(ContextLayout.routeBytes),
      });
      expect(status, stderr).toBe(0);
      expect(result.asyncContext).toBe('walk');
      expect(result.readings).toBe(48 * 3);
      expect(result.mismatches).toEqual([]);
      expect(result.mismatchCount).toBe(0);
      // Between requests: outside every run, the walk gives the page's values (the thread's own).
      expect(result.between).toEqual({ route: 'idle', reqId: '0', from: 'page' });
    });
  }
});
