// tld.define(schema): keys declared once, run()/set() checked by TypeScript. The `@ts-expect-error` lines are the
// type test: `pnpm lint` runs tsc over this file, and a line that compiles fails it (an unused @ts-expect-error is
// an error). The runtime tests check that the view is the same keys and run() as the dynamic API, on a real map.
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { type BytesKey, type StringKey, TaskLocalData, type U32Key, type U64Key } from '../src/index.js';
import { type PinnedMaps, codeOf, loadFixtureMaps } from './fixture.js';

const SCHEMA = {
  req_id: 'u64',
  route: { type: 'string', size: 32 },
  weight: 'u32',
  trace: { type: 'bytes', size: 16 },
} as const;

/** Never called: what must and must not compile. */
function typeChecks(tld: TaskLocalData): void {
  const app = tld.define({
    req_id: 'u64',
    route: { type: 'string', size: 32 },
    weight: 'u32',
    trace: { type: 'bytes', size: 16 },
  });
  expectTypeOf(app.keys.req_id).toEqualTypeOf<U64Key>();
  expectTypeOf(app.keys.route).toEqualTypeOf<StringKey>();
  expectTypeOf(app.keys.weight).toEqualTypeOf<U32Key>();
  expectTypeOf(app.keys.trace).toEqualTypeOf<BytesKey>();
  expectTypeOf(app.get()).toEqualTypeOf<{ req_id: bigint; route: string; weight: number; trace: Uint8Array }>();
  expectTypeOf(app.run({ req_id: 1n }, () => 42)).toEqualTypeOf<number>();
  app.run({ req_id: 1n, route: '/x', weight: 3, trace: new Uint8Array(16) }, () => undefined);
  app.set({ route: '/users/:id' });

  // @ts-expect-error a misspelt key name
  app.run({ rout: '/x' }, () => undefined);
  // @ts-expect-error req_id is a u64: a bigint, not a string
  app.run({ req_id: 'abc' }, () => undefined);
  // @ts-expect-error req_id is a u64: a bigint, not a number
  app.set({ req_id: 42 });
  // @ts-expect-error route is a string
  app.set({ route: 42n });
  // @ts-expect-error weight is a u32: a number
  app.run({ weight: 1n }, () => undefined);
  // @ts-expect-error trace is bytes
  app.set({ trace: 'abc' });
  // @ts-expect-error no such key
  void app.keys.tenant;
  // @ts-expect-error not a key type
  tld.define({ x: 'u16' });
  // @ts-expect-error a string key needs its size
  tld.define({ x: { type: 'string' } });

  // The dynamic API stays: any name, checked at run time.
  tld.run({ rout: '/x', anything: 1n }, () => undefined);
}
void typeChecks;

describe('tld.define(schema)', () => {
  let maps: PinnedMaps;
  let tld: TaskLocalData;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());
  afterEach(() => tld?.close());

  it('creates the declared keys: the same keys the dynamic API hands out', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const app = tld.define(SCHEMA);
    expect(app.tld).toBe(tld);
    expect(app.keys.req_id).toBe(tld.u64('req_id'));
    expect(app.keys.route).toBe(tld.string('route', 32));
    expect(app.keys.weight).toBe(tld.u32('weight'));
    expect(app.keys.trace).toBe(tld.bytes('trace', 16));
    expect(tld.keys().map((k) => [k.name, k.size])).toEqual(
      expect.arrayContaining([
        ['req_id', 8],
        ['route', 32],
        ['weight', 4],
        ['trace', 16],
      ]),
    );
  });

  it('set() and run() write the keys; get() reads them, inside and outside a run', async () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const app = tld.define(SCHEMA);
    app.set({ req_id: 0n, route: 'idle', weight: 1, trace: new Uint8Array(16) });
    const inside = await app.run({ req_id: 7n, route: '/users/:id' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      app.set({ weight: 9 });
      return app.get();
    });
    expect(inside).toEqual({ req_id: 7n, route: '/users/:id', weight: 9, trace: new Uint8Array(16) });
    expect(app.get()).toEqual({ req_id: 0n, route: 'idle', weight: 1, trace: new Uint8Array(16) });
  });

  it('set() with a bad value or an undeclared name changes nothing and throws the coded error', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const app = tld.define(SCHEMA);
    app.set({ req_id: 5n, route: 'before' });
    expect(codeOf(() => app.set({ route: 'after', req_id: 'abc' as never }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => app.set({ route: 'after', req_id: -1n }))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => app.set({ route: 'after', rout: 'x' } as never))).toBe('ERR_TLD_UNKNOWN_KEY');
    expect(app.get()).toMatchObject({ req_id: 5n, route: 'before' });
    expect(codeOf(() => app.run({ rout: '/x' } as never, () => undefined))).toBe('ERR_TLD_UNKNOWN_KEY');
  });

  it('a bad schema throws a coded TypeError naming the key and the accepted forms', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    expect(codeOf(() => tld.define(null as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(() => tld.define({ x: 'u16' } as never)).toThrow(
      /key "x" must be declared as 'u64', 'i64', 'u32', 'f64'.*got "u16"/,
    );
    expect(codeOf(() => tld.define({ x: { type: 'string' } } as never))).toBe('ERR_INVALID_ARG_VALUE');
  });
});
