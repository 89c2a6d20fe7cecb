// The await-hop measurement of the async-context case (cases-context.ts), on a Node.js with AsyncContextFrame: ns
// per `await` of a resolved promise outside any run, and inside tld.run() by the async-context walk (which does
// nothing per hop). Usage (forked): node context-hops.js <time ms> <rounds>
import { loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';

const [timeMs, rounds] = process.argv.slice(2).map(Number) as [number, number];
if (!(timeMs > 0) || !(rounds > 0) || !process.send)
  throw new Error('usage: context-hops.js <time ms> <rounds> (forked)');

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

// Many short samples (about a millisecond each), alternating, and the fastest of each side: on a shared machine
// load only ever adds time to a CPU-bound loop, and a short sample is more often left alone than a long one.
const HOPS = 20_000;
const samples = Math.max(64, Math.round((timeMs * rounds) / 4));
await time(outside, HOPS); // warm-up: both sides through V8's tiers
await time(inside, HOPS);
await time(outside, HOPS);
await time(inside, HOPS);
let best = Infinity;
let bestInside = Infinity;
for (let r = 0; r < samples; r++) {
  if (r % 2 === 0) {
    best = Math.min(best, (await time(outside, HOPS)) / HOPS);
    bestInside = Math.min(bestInside, (await time(inside, HOPS)) / HOPS);
  } else {
    bestInside = Math.min(bestInside, (await time(inside, HOPS)) / HOPS);
    best = Math.min(best, (await time(outside, HOPS)) / HOPS);
  }
}
// The run really was one: inside it get() gives the run's value.
const seen = await tld.run({ req_id: 43n }, async () => {
  await resolved;
  return reqId.get();
});
if (seen !== 43n || tld.asyncContext !== 'walk')
  throw new Error(`context-hops: run() gave ${seen} by ${tld.asyncContext}`);
tld.close();
reader.close();
process.send({ type: 'result', outsideNs: best, insideNs: bestInside, sink }, () => process.disconnect());
