// The await-hop measurement of the async-context case (cases-context.ts), on a Node.js with AsyncContextFrame: ns
// per `await` of a resolved promise outside any run, and inside tld.run() by the async-context walk (which does
// nothing per hop). Interleaved rounds (ABBA), at least 16; the fastest round of each: on a shared machine load only
// ever adds time to a CPU-bound loop, so the minimum is the steadiest estimate.
// Usage (forked): node context-hops.js <time ms> <rounds>
import { loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';

const [timeMs, rounds] = process.argv.slice(2).map(Number) as [number, number];
if (!(timeMs > 0) || !(rounds > 0) || !process.send) throw new Error('usage: context-hops.js <time ms> <rounds> (forked)');

const reader = loadReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'walk' });
const reqId = tld.u64('req_id');

let sink = 0;
const resolved = Promise.resolve();
async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await resolved;
    sink = (sink + i) | 0;
  }
}
const outside = (n: number): Promise<void> => hops(n);
const inside = (n: number): Promise<void> => tld.run({ req_id: 42n }, () => hops(n));

async function time(fn: (n: number) => Promise<void>, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn(n);
  return Number(process.hrtime.bigint() - t0);
}

async function calibrate(fn: (n: number) => Promise<void>): Promise<number> {
  const target = timeMs * 1e6;
  let n = 256;
  for (;;) {
    const ns = await time(fn, n);
    if (ns >= target / 10) return Math.max(1, Math.round((n * target) / ns));
    n *= 2;
  }
}

const nOut = await calibrate(outside);
const nIn = await calibrate(inside);
const base: number[] = [];
const cand: number[] = [];
for (let r = 0; r < Math.max(16, rounds); r++) {
  if (r % 2 === 0) {
    base.push((await time(outside, nOut)) / nOut);
    cand.push((await time(inside, nIn)) / nIn);
  } else {
    cand.push((await time(inside, nIn)) / nIn);
    base.push((await time(outside, nOut)) / nOut);
  }
}
// The run really was one: inside it get() gives the run's value.
const seen = await tld.run({ req_id: 43n }, async () => {
  await resolved;
  return reqId.get();
});
if (seen !== 43n || tld.asyncContext !== 'walk') throw new Error(`context-hops: run() gave ${seen} by ${tld.asyncContext}`);
tld.close();
reader.close();
process.send({ type: 'result', outsideNs: Math.min(...base), insideNs: Math.min(...cand), sink }, () => process.disconnect());
