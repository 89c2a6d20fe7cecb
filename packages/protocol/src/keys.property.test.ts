// Random create sequences against a plain sequential model of PROTOCOL.md §3.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypedArrayMemory } from './atomic-memory.js';
import { ProtocolErrorCode, TldError } from './errors.js';
import { createKey, listKeys } from './keys.js';
import { type Layout, layoutFor, roundUpValueSize } from './layout.js';
import { initMetaPage, readMetaHeader } from './pages.js';

interface ModelKey {
  name: string;
  size: number;
}

type Outcome = { ok: true; index: number; offset: number; created: boolean } | { ok: false; code: string };

const utf8 = new TextEncoder();

/** What createKey must do, written as simply as possible: a list of keys in slot order. */
function modelCreate(model: ModelKey[], metaSize: number, layout: Layout, name: string, size: number): Outcome {
  if (name.length === 0) return { ok: false, code: ProtocolErrorCode.NAME_EMPTY };
  if (name.includes('\0')) return { ok: false, code: ProtocolErrorCode.NAME_HAS_NUL };
  if (utf8.encode(name).length > 61) return { ok: false, code: ProtocolErrorCode.NAME_TOO_LONG };
  if (!Number.isInteger(size) || size < 1 || size > layout.pageSize - 8) {
    return { ok: false, code: ProtocolErrorCode.SIZE_INVALID };
  }
  let offset = 0;
  for (const [index, key] of model.entries()) {
    if (key.name === name) {
      return key.size === size
        ? { ok: true, index, offset, created: false }
        : { ok: false, code: ProtocolErrorCode.SIZE_MISMATCH };
    }
    offset += Math.ceil(key.size / 8) * 8;
  }
  if (model.length === layout.maxKeys) return { ok: false, code: ProtocolErrorCode.NO_SPACE };
  if (offset + Math.ceil(size / 8) * 8 > metaSize) return { ok: false, code: ProtocolErrorCode.TOO_BIG };
  model.push({ name, size });
  return { ok: true, index: model.length - 1, offset, created: true };
}

// A small alphabet (with a 2-byte letter) so names repeat; sometimes empty, too long or with a NUL.
const nameArb = fc.oneof(
  { weight: 20, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é'), minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.integer({ min: 62, max: 70 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constant('é'.repeat(31)) },
  { weight: 1, arbitrary: fc.constantFrom('a\0', '\0', 'b\0c') },
);

const sizeArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 4088 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4089, max: 20000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, -4096, 2.5, Number.NaN, Number.POSITIVE_INFINITY) },
);

const scenarioArb = fc.record({
  pageSize: fc.constantFrom(4096, 4096, 4096, 16384),
  // Small meta.size values make TOO_BIG common; the full P − 8 is what our own pages carry.
  metaSize: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 4088 })),
  // size 'max': without it fast-check keeps arrays near 10 elements and pages never fill up.
  ops: fc.array(fc.tuple(nameArb, sizeArb), { minLength: 1, maxLength: 100, size: 'max' }),
});

// Plain checks that throw (fast-check reports the failing sequence); expect() in this hot loop is too slow.
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

function sameOutcome(actual: Outcome, expected: Outcome): void {
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    `got ${JSON.stringify(actual)}, model says ${JSON.stringify(expected)}`,
  );
}

function unchanged(mem: TypedArrayMemory, before: Uint8Array): void {
  check(Buffer.from(mem.bytes).equals(Buffer.from(before)), 'page bytes changed by a call that created no key');
}

function checkInvariants(mem: TypedArrayMemory, model: ModelKey[], metaSize: number, layout: Layout): void {
  const keys = listKeys(mem, layout);
  const { cnt, size } = readMetaHeader(mem);
  check(size === metaSize, `meta.size ${size} != ${metaSize}`);
  check(cnt === model.length, `cnt ${cnt} != ${model.length} distinct names created`);
  check(new Set(keys.map((k) => k.name)).size === keys.length, 'a name has two slots');
  check(
    JSON.stringify(keys.map((k) => [k.name, k.size])) === JSON.stringify(model.map((k) => [k.name, k.size])),
    `listKeys ${JSON.stringify(keys)} != model ${JSON.stringify(model)}`,
  );
  let end = 0;
  for (const [i, key] of keys.entries()) {
    check(key.index === i, `key ${key.name} has index ${key.index}, expected ${i}`);
    check(key.offset % 8 === 0, `offset ${key.offset} of ${key.name} is not 8-aligned`);
    check(key.offset >= end, `${key.name} at ${key.offset} overlaps the previous value ending at ${end}`);
    end = key.offset + roundUpValueSize(key.size);
  }
  check(end <= size, `values end at ${end}, past meta.size ${size}`);
}

function runCreate(mem: TypedArrayMemory, name: string, size: number, layout: Layout): Outcome {
  try {
    const key = createKey(mem, name, size, { layout });
    check(key.name === name && key.size === size, `createKey returned ${JSON.stringify(key)}`);
    return { ok: true, index: key.index, offset: key.offset, created: key.created };
  } catch (err) {
    check(err instanceof TldError, `threw a non-TldError: ${String(err)}`);
    return { ok: false, code: (err as TldError).code };
  }
}

describe('createKey property', () => {
  it('matches the sequential model; offsets never overlap, fit meta.size, and errors change nothing', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenarioArb, ({ pageSize, metaSize: metaSizeChoice, ops }) => {
        const layout = layoutFor(pageSize);
        const mem = new TypedArrayMemory(new SharedArrayBuffer(pageSize));
        initMetaPage(mem, layout);
        const metaSize = metaSizeChoice === -1 ? layout.dataBytes : metaSizeChoice;
        mem.store16(2, metaSize);
        const model: ModelKey[] = [];

        for (const [name, size] of ops) {
          const before = mem.bytes.slice();
          const expected = modelCreate(model, metaSize, layout, name, size);
          const actual = runCreate(mem, name, size, layout);
          sameOutcome(actual, expected);
          seen.add(actual.ok ? (actual.created ? 'created' : 'existing') : actual.code);
          if (!actual.ok || !actual.created) unchanged(mem, before);
          checkInvariants(mem, model, metaSize, layout);
        }
      }),
      { numRuns: 1000 },
    );
    // The generators must reach every outcome, or the property proves less than it claims.
    expect([...seen].sort()).toEqual(
      [
        'created',
        'existing',
        ProtocolErrorCode.NAME_EMPTY,
        ProtocolErrorCode.NAME_TOO_LONG,
        ProtocolErrorCode.NAME_HAS_NUL,
        ProtocolErrorCode.SIZE_INVALID,
        ProtocolErrorCode.TOO_BIG,
        ProtocolErrorCode.SIZE_MISMATCH,
      ].sort(),
    );
  });

  it('hits NO_SPACE with many distinct names and keeps the invariants', () => {
    let noSpace = 0;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 79 }), { minLength: 60, maxLength: 150 }), (ops) => {
        const layout = layoutFor();
        const mem = new TypedArrayMemory(new SharedArrayBuffer(4096));
        initMetaPage(mem, layout);
        const model: ModelKey[] = [];
        // Size is a function of the name, so repeats succeed and the page fills its 63 slots.
        for (const n of ops) {
          const name = `key-${n}`;
          const size = (n % 9) + 1;
          const before = mem.bytes.slice();
          const expected = modelCreate(model, layout.dataBytes, layout, name, size);
          const actual = runCreate(mem, name, size, layout);
          sameOutcome(actual, expected);
          if (!actual.ok && actual.code === ProtocolErrorCode.NO_SPACE) noSpace++;
          if (!actual.ok || !actual.created) unchanged(mem, before);
          checkInvariants(mem, model, layout.dataBytes, layout);
        }
      }),
      { numRuns: 200 },
    );
    expect(noSpace).toBeGreaterThan(0);
  });
});
