// What tld.run() costs on one thread: a promise-reaction hop (await) and a setImmediate hop inside run({ 2 keys })
// — each hop leaves and re-enters the context, writing both keys — against the same hop in the same process before
// its first run(); the hop outside any run() once run() was used (what the rest of the process pays); set()
// before, after and inside run(). Each trial is a fresh process (trial.ts), as the hooks run() installs stay.
// The per-request cost in a server is the HTTP case's (cases-http.ts, wrappers `run`, `als`, `hooks`).
import { asyncContextMechanism } from '@tld/userspace';
import type { BenchCase, Measurement, TrialOptions } from './types.js';
import { median } from './stats.js';
import { withTld } from './pair.js';

/** Runs `n` hops of one kind. */
type Hops = (n: number) => Promise<void> | void;

async function awaitHops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve(); // a bare await: one promise-reaction hop
}

function immediateHops(n: number): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    const step = (): void => void (++i < n ? setImmediate(step) : resolve());
    setImmediate(step);
  });
}

/** Nanoseconds per unit of `fn(n)`. */
async function perOp(fn: Hops, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

/** Median of `rounds` alternating measurements of each function, by name. */
async function alternate(fns: Record<string, Hops>, n: number, rounds: number): Promise<Record<string, number>> {
  const runs: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) runs[name]?.push(await perOp(fn, n));
  }
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
}

function measure(options: TrialOptions): Promise<Measurement[]> {
  return withTld(async ({ tld, reader }) => {
    const hops = options.quick ? 2_000 : 100_000;
    const sets = options.quick ? 20_000 : 1_000_000;
    const rounds = options.quick ? 1 : 9;
    const reqId = tld.u64('req_id');
    const route = tld.string('route', 32);
    reqId.set(1n);
    route.set('/thread');
    const plain = new BigUint64Array(1);
    const storeLoop = (n: number): void => {
      for (let i = 0; i < n; i++) plain[0] = BigInt(i & 1023);
    };
    const setLoop = (n: number): void => {
      for (let i = 0; i < n; i++) reqId.set(BigInt(i & 1023));
    };
    const inRun = { req_id: 2n, route: '/users/:id' }; // both keys differ from the thread's values
    const warm = { awaitHops, immediateHops, storeLoop, setLoop };
    for (let w = 0; w < 3; w++) await alternate(warm, hops / 4, 1); // through the JIT tiers
    // Before the first run(): nothing installed, the baseline.
    const before = await alternate({ await: awaitHops, immediate: immediateHops }, hops, rounds);
    const setBefore = await alternate({ store: storeLoop, set: setLoop }, sets, rounds);
    tld.run(inRun, () => undefined); // installs the hooks for good
    const afterFns: Record<string, Hops> = {
      awaitOutside: awaitHops,
      awaitInRun: (n) => tld.run(inRun, () => awaitHops(n)),
      immediateOutside: immediateHops,
      immediateInRun: (n) => tld.run(inRun, () => immediateHops(n)),
    };
    await alternate(afterFns, hops / 4, 1);
    const after = await alternate(afterFns, hops, rounds);
    const setAfter = await alternate(
      { store: storeLoop, set: setLoop, setInRun: (n) => tld.run(inRun, () => setLoop(n)) },
      sets,
      rounds,
    );
    // The page holds the thread's values again, and the BPF reader agrees.
    const last = (sets - 1) & 1023;
    const read = reader.read(['req_id']).values['req_id'];
    if (
      reqId.get() !== BigInt(last) ||
      route.get() !== '/thread' ||
      read?.[0] !== (last & 0xff) ||
      read[1] !== last >> 8
    ) {
      throw new Error(`async-context: after the runs the page does not hold the thread's values (${String(read)})`);
    }
    const v = (r: Record<string, number>, k: string): number => r[k] ?? Number.NaN;
    const how = `(${asyncContextMechanism()}, 2 keys)`;
    return [
      {
        name: 'await hop before run',
        unit: 'ns/hop',
        value: v(before, 'await'),
        baseline: null,
        description: 'a bare await, before the first run()',
      },
      {
        name: 'await hop inside run, page',
        unit: 'ns/hop',
        value: v(after, 'awaitInRun'),
        baseline: 'await hop before run',
        description: `an await inside run(): leave + enter ${how}`,
      },
      // A context switch (leave + enter) costs `await hop inside run, page` − `await hop outside run, page`: a difference of
      // two timings, noisy enough to come out negative on a busy machine, so it is not a row of its own.
      {
        name: 'await hop outside run, page',
        unit: 'ns/hop',
        value: v(after, 'awaitOutside'),
        baseline: 'await hop before run',
        description: 'an await outside any run(), after the first run()',
      },
      {
        name: 'setImmediate hop',
        unit: 'ns/hop',
        value: v(before, 'immediate'),
        baseline: null,
        description: 'a setImmediate hop, before the first run()',
      },
      {
        name: 'setImmediate hop inside run',
        unit: 'ns/hop',
        value: v(after, 'immediateInRun'),
        baseline: 'setImmediate hop',
        description: `a setImmediate hop inside run() ${how}`,
      },
      {
        name: 'setImmediate hop outside run',
        unit: 'ns/hop',
        value: v(after, 'immediateOutside'),
        baseline: 'setImmediate hop',
        description: 'a setImmediate hop outside any run(), after the first run()',
      },
      {
        name: 'store before run',
        unit: 'ns/op',
        value: v(setBefore, 'store'),
        baseline: null,
        description: 'a BigUint64Array store, before the first run()',
      },
      {
        name: 'set before run',
        unit: 'ns/op',
        value: v(setBefore, 'set'),
        baseline: 'store before run',
        description: 'U64Key.set(), no run() yet',
      },
      {
        name: 'store after run',
        unit: 'ns/op',
        value: v(setAfter, 'store'),
        baseline: null,
        description: 'a BigUint64Array store, after the first run()',
      },
      {
        name: 'set outside run',
        unit: 'ns/op',
        value: v(setAfter, 'set'),
        baseline: 'store after run',
        description: 'U64Key.set() outside run(), after the first run()',
      },
      {
        name: 'set inside run',
        unit: 'ns/op',
        value: v(setAfter, 'setInRun'),
        baseline: 'store after run',
        description: 'U64Key.set() inside run()',
      },
    ];
  });
}

export const CASES: BenchCase[] = [
  {
    id: 'async-context',
    description: 'run(): await and setImmediate hops inside and outside run(), set() before, after and inside it',
    run: measure,
  },
];
