// TraceContext: the OpenTelemetry trace context run() writes into its record's header by the walk (PROTOCOL.md §8).
// Its checks, here; run() with one by the page mechanism (checked, not published), here; and by the walk, on each
// Node.js of .cache/node whose run() takes it, trace-header-child.mjs reads the header with BPF at checkpoints.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfRequired, bpfSupport, runNodeScript, walkConfigs } from '@tld/testkit';
import { TaskLocalData, TraceContext } from '../src/index.js';
import { type PinnedMaps, codeOf, loadFixtureMaps, packageDir } from './fixture.js';

const TRACE = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const SPAN = Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);

describe('TraceContext.from()', () => {
  it('refuses ids that are not Uint8Arrays of 16 and 8 bytes, with typed codes', () => {
    expect(codeOf(() => TraceContext.from('0102' as never, SPAN))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => TraceContext.from(TRACE, [1, 2, 3, 4, 5, 6, 7, 8] as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => TraceContext.from(TRACE.subarray(1), SPAN))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => TraceContext.from(TRACE, new Uint8Array(9).fill(1)))).toBe('ERR_OUT_OF_RANGE');
    const detached = new Uint8Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(codeOf(() => TraceContext.from(detached, SPAN))).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('refuses flags that are not a byte', () => {
    expect(codeOf(() => TraceContext.from(TRACE, SPAN, '1' as never))).toBe('ERR_INVALID_ARG_TYPE');
    for (const flags of [-1, 256, 1.5, Number.NaN]) {
      expect(
        codeOf(() => TraceContext.from(TRACE, SPAN, flags)),
        String(flags),
      ).toBe('ERR_OUT_OF_RANGE');
    }
  });

  it('refuses what OTEP 4947 forbids: one id set without the other, flags without ids', () => {
    expect(codeOf(() => TraceContext.from(new Uint8Array(16), SPAN))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => TraceContext.from(TRACE, new Uint8Array(8)))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => TraceContext.from(new Uint8Array(16), new Uint8Array(8), 1))).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('zero ids and flags are TraceContext.NONE; ids make a new context', () => {
    expect(TraceContext.from(new Uint8Array(16), new Uint8Array(8))).toBe(TraceContext.NONE);
    const made = TraceContext.from(TRACE, SPAN, 1);
    expect(made).toBeInstanceOf(TraceContext);
    expect(made).not.toBe(TraceContext.NONE);
  });
});

describe('run(values, fn, trace) by the page mechanism', () => {
  let maps: PinnedMaps;
  let tld: TaskLocalData;
  beforeAll(() => {
    maps = loadFixtureMaps();
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), asyncContext: 'page' });
  });
  afterAll(() => {
    tld?.close();
    maps?.remove();
  });

  it('refuses a trace that is not a TraceContext before anything runs', () => {
    const reqId = tld.u64('req_id');
    let called = false;
    const fn = () => (called = true);
    expect(codeOf(() => tld.run({ req_id: 1n }, fn, { words: [1, 2, 3, 4, 5, 6, 1] } as never))).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(codeOf(() => tld.define({ req_id: 'u64' }).run({ req_id: 1n }, fn, 'trace' as never))).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(called).toBe(false);
    expect(reqId.get()).toBe(0n);
  });

  it('runs fn with its values; the trace context has no record to go to', () => {
    const reqId = tld.u64('req_id');
    expect(tld.run({ req_id: 9n }, () => reqId.get(), TraceContext.from(TRACE, SPAN, 1))).toBe(9n);
  });
});

describe.skipIf(!bpfSupport().supported)('run(values, fn, trace) by the walk: the record header', () => {
  const nodes = walkConfigs();
  it('tools/setup installed a Node.js with AsyncContextFrame', () => {
    if (nodes.length === 0 && !bpfRequired()) return;
    expect(nodes.length).toBeGreaterThan(0);
  });

  for (const node of nodes) {
    it(`${node.label}: BPF reads each run's trace context from its header`, () => {
      const result = runNodeScript<{
        asyncContext: string;
        checks: { name: string; want: unknown; got: unknown }[];
      }>(node, join(packageDir, 'test', 'trace-header-child.mjs'));
      expect(result.asyncContext).toBe('walk');
      expect(result.checks.map((c) => c.name)).toEqual([
        'outside any run',
        'a run given a trace context',
        'after set() in the run',
        'a nested run without one keeps the enclosing one',
        'a nested run with another has that one',
        'TraceContext.NONE: none active',
        'back in the run',
        'a trace that is not a TraceContext',
        'after the refused run',
        'after the run',
        'a run without a trace context',
        'after an await',
        'a timer that fires after its run ended (ESTALE)',
      ]);
      for (const { name, want, got } of result.checks) expect(got, name).toEqual(want);
    });
  }
});
