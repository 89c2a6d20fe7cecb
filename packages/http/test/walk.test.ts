// On Node.js 24 and 26, run() takes the async-context walk: nothing is copied into the page at context switches,
// and BPF finds a request's values by walking from the thread to the running context's record. walk-child.mjs runs
// express and fastify there with interleaved requests and reads each request's route and id through that walk
// (tld_get_context_data) at three points of every handler. The run() each request gets must outlive its
// handler's last await for this to hold.
import { describe, expect, it } from 'vitest';
import {
  bpfRequired,
  bpfSupport,
  ContextLayout,
  installedNodes,
  runNodeScript,
  type WalkChildReport,
} from '@tld/testkit';

/** Node.js 24+ (tools/setup): AsyncContextFrame by default. */
const nodes = installedNodes(24);

describe.skipIf(!bpfSupport().supported)('the framework adapters with the async-context walk', () => {
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const { version, bin } of nodes) {
    it(`${version}: BPF reads each request's route and id through the walk`, () => {
      const result = runNodeScript<WalkChildReport & { between: unknown }>(
        bin,
        new URL('./walk-child.mjs', import.meta.url),
        { ROUTE_BYTES: String(ContextLayout.routeBytes) },
      );
      expect(result.asyncContext).toBe('walk');
      expect(result.readings).toBe(48 * 3);
      expect(result.mismatches).toEqual([]);
      expect(result.mismatchCount).toBe(0);
      // Between requests: outside every run, the walk gives the page's values (the thread's own).
      expect(result.between).toEqual({ route: 'idle', reqId: '0', from: 'page' });
    });
  }
});
