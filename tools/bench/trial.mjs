// One trial of one case, in a fresh process (forked by run.mjs): set up a private tld_data_map and this thread's
// TaskLocalData, warm both sides up, then time baseline and candidate interleaved (ABBA order, so a drift in
// machine speed hits both alike) and send the result to the parent.
//
// Usage (from run.mjs): node trial.mjs <case id> <milliseconds per measurement> <rounds>
import { loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { CASES } from './cases.mjs';

const [caseId, msArg, roundsArg] = process.argv.slice(2);
const benchCase = CASES.find((c) => c.id === caseId);
if (!benchCase) throw new Error(`unknown case ${JSON.stringify(caseId)}`);
const targetNs = Number(msArg) * 1e6;
const rounds = Number(roundsArg);
if (!(targetNs > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('usage: trial.mjs <case> <ms> <rounds>');

// Everything a measured function returns is folded in here and reported, so its work is observable.
let sink = 0;
function fold(result) {
  if (typeof result === 'bigint') return Number(result & 0xffffn);
  if (typeof result === 'number') return result | 0;
  return result === undefined ? 0 : 1;
}

/** Nanoseconds that `n` operations of `fn` take. */
function time(fn, n) {
  const t0 = process.hrtime.bigint();
  const result = fn(n);
  const t1 = process.hrtime.bigint();
  sink = (sink + fold(result)) | 0;
  return Number(t1 - t0);
}

/** Operations of `fn` that take about targetNs, found by doubling until a run lasts a tenth of that. */
function calibrate(fn) {
  let n = 16;
  for (;;) {
    const ns = time(fn, n);
    if (ns >= targetNs / 10) return Math.max(1, Math.round((n * targetNs) / ns));
    n *= 2;
  }
}

const reader = loadReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd });
const pair = benchCase.setup({ tld, reader });
try {
  // Warm-up: calibration runs each side through the tiers, then one full-length run each with the final count.
  let nBase = calibrate(pair.baseline);
  let nCand = calibrate(pair.candidate);
  nBase = Math.max(1, Math.round((nBase * targetNs) / time(pair.baseline, nBase)));
  nCand = Math.max(1, Math.round((nCand * targetNs) / time(pair.candidate, nCand)));

  const samples = [];
  for (let r = 0; r < rounds; r++) {
    let base;
    let cand;
    if (r % 2 === 0) {
      base = time(pair.baseline, nBase) / nBase;
      cand = time(pair.candidate, nCand) / nCand;
    } else {
      cand = time(pair.candidate, nCand) / nCand;
      base = time(pair.baseline, nBase) / nBase;
    }
    samples.push({ baselineNs: base, candidateNs: cand, ratio: cand / base });
  }
  // The candidate must have done real work: BPF, running on this thread, reads what it last stored.
  pair.check?.();

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  process.send({
    id: benchCase.id,
    baselineNs: median(samples.map((s) => s.baselineNs)),
    candidateNs: median(samples.map((s) => s.candidateNs)),
    ratio: median(samples.map((s) => s.ratio)),
    iterations: { baseline: nBase, candidate: nCand },
    samples,
    sink,
  }, () => process.disconnect());
} finally {
  pair.close?.();
  tld.close();
  reader.close();
}
