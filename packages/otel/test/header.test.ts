// On Node.js 24 and 26 (22 with --experimental-async-context-frame) run() takes the async-context walk, and the
// run TldContextManager makes for a span carries the span's trace context in its record's header: the OTEP 4947
// lead-in an OpenTelemetry profiler reads. header-child.mjs reads that lead-in with BPF (through the walk,
// tld.bpf.h) at checkpoints of real spans of @opentelemetry/sdk-trace-base; this file judges every reading.
import { describe, expect, it } from 'vitest';
import { bpfRequired, bpfSupport, runNodeScript, walkConfigs } from '@tld/testkit';

const nodes = walkConfigs();

/** The checkpoints of one child, by name: what the reader found and what it had to find. */
type Checks = Record<string, { want: unknown; got: unknown }[]>;

/** How many readings each checkpoint takes: a name the child stops reporting fails the test. */
const EXPECTED: Record<string, number> = {
  'before any span': 1,
  interleaved: 16 * 5,
  'after every span ended': 1,
  'timer after its span ended': 1,
  'root context inside a span': 2,
  'run inside a span': 1,
  'span inside a run': 3,
  'unsampled span': 1,
};

describe.skipIf(!bpfSupport().supported)('TldContextManager fills the record header (OTEP 4947 lead-in)', () => {
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const node of nodes) {
    it(`${node.label}: the header holds the active span's ids, none outside spans, invalid once a span ended`, () => {
      const result = runNodeScript<{ asyncContext: string; checks: Checks }>(
        node,
        new URL('./header-child.mjs', import.meta.url),
      );
      expect(result.asyncContext).toBe('walk');
      expect(Object.fromEntries(Object.entries(result.checks).map(([name, list]) => [name, list.length]))).toEqual(
        EXPECTED,
      );
      for (const [name, list] of Object.entries(result.checks)) {
        const wrong = list.filter((c) => JSON.stringify(c.got) !== JSON.stringify(c.want));
        expect(wrong, name).toEqual([]);
      }
      // Every span of the interleaved traces was seen with its own ids: 16 roots and 16 children.
      const spans = new Set(result.checks['interleaved']?.map((c) => (c.got as { spanId: string }).spanId));
      expect(spans.size).toBe(32);
    });
  }
});
