#!/usr/bin/env node
// `pnpm bench`: benchmarks of the @tld/userspace hot path. Every trial is a fresh process (trial.mjs) that runs a
// case's baseline and candidate interleaved, so the ratio compares two things measured in the same process under
// the same conditions. The table reports medians across trials and the spread of the per-trial ratios.
import { fork } from 'node:child_process';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { loadReader } from '@tld/bpf-programs';
import { CASES } from './cases.mjs';

const HELP = `Usage: pnpm bench [-- options]        (or: node tools/bench/run.mjs [options])

Benchmarks TaskLocalData key set()/get() against plain typed-array operations, and the alternatives users would
pick (AsyncLocalStorage, one BPF_MAP_UPDATE_ELEM per update) against U64Key.set. Each trial runs in a fresh
process; needs BPF (root, Linux >= 6.13): the TLD side writes into a real, private tld_data_map.

  --trials N      fresh processes per case (default 5)
  --filter TEXT   only cases whose id or description contains TEXT (case-insensitive)
  --time MS       length of one measurement in milliseconds (default 200)
  --rounds N      interleaved baseline/candidate measurements per trial (default 4)
  --json          print machine-readable results on stdout instead of the table
  -h, --help      this text

Cases: ${CASES.map((c) => c.id).join(', ')}`;

function usageError(message) {
  process.stderr.write(`${message}\n\n${HELP}\n`);
  process.exit(2);
}

let opts;
try {
  // `pnpm <script> -- --flag` hands the `--` through: drop it so the flags after it still count.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  ({ values: opts } = parseArgs({
    args,
    options: {
      trials: { type: 'string', default: '5' },
      filter: { type: 'string' },
      time: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  usageError(err.message);
}
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const positiveInt = (name, text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
};
const trials = positiveInt('trials', opts.trials);
const timeMs = positiveInt('time', opts.time);
const rounds = positiveInt('rounds', opts.rounds);
const needle = opts.filter?.toLowerCase();
const cases = CASES.filter(
  (c) => !needle || [c.id, c.candidate, c.baseline].some((text) => text.toLowerCase().includes(needle)),
);
if (cases.length === 0) usageError(`--filter ${JSON.stringify(opts.filter)} matches no case`);

// Fail early, with the reason, when this machine cannot run BPF (not root, old kernel, no BTF).
try {
  loadReader().close();
} catch (error) {
  process.stderr.write(`bench: needs BPF task local data (run as root on Linux >= 6.13 with BTF): ${error.message}\n`);
  process.exit(1);
}

const trialScript = new URL('./trial.mjs', import.meta.url);

/** Runs one trial in a fresh process; resolves with its result message, rejects with its stderr. */
function runTrial(benchCase) {
  return new Promise((resolve, reject) => {
    const child = fork(trialScript, [benchCase.id, String(timeMs), String(rounds)], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let result;
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('message', (m) => {
      result = m;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`trial of ${benchCase.id} failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`));
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Trials go round-robin over the cases, so a slow patch of the machine spreads over all of them.
const perCase = new Map(cases.map((c) => [c.id, []]));
const total = cases.length * trials;
const tty = process.stderr.isTTY;
let done = 0;
try {
  for (let t = 1; t <= trials; t++) {
    for (const c of cases) {
      done += 1;
      const line = `[${done}/${total}] ${c.id} (trial ${t}/${trials}) ...`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      perCase.get(c.id).push(await runTrial(c));
    }
  }
} catch (err) {
  if (tty) process.stderr.write('\n');
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
}
if (tty) process.stderr.write('\r\x1b[K');

const results = cases.map((c) => {
  const rs = perCase.get(c.id);
  const ratios = rs.map((r) => r.ratio);
  return {
    id: c.id,
    candidate: c.candidate,
    baseline: c.baseline,
    nsPerOp: median(rs.map((r) => r.candidateNs)),
    baselineNsPerOp: median(rs.map((r) => r.baselineNs)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    trials: rs.map((r) => ({ candidateNs: r.candidateNs, baselineNs: r.baselineNs, ratio: r.ratio })),
  };
});
const cpuList = cpus();
const machine = {
  cpus: cpuList.length,
  cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
  kernel: release(),
  node: process.version,
};

if (opts.json) {
  const out = { date: new Date().toISOString(), machine, trials, timeMs, rounds, results };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  const ns = (x) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
  const ratio = (x) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
  const rows = [
    ['case', 'ns/op', 'baseline', 'baseline ns/op', 'ratio', 'spread'],
    ...results.map((r) => [
      r.candidate,
      ns(r.nsPerOp),
      r.baseline,
      ns(r.baselineNsPerOp),
      `${ratio(r.ratio)}×`,
      `${ratio(r.ratioMin)}–${ratio(r.ratioMax)}×`,
    ]),
  ];
  // A Markdown table, padded so it also reads well in a terminal.
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const right = new Set([1, 3, 4, 5]);
  const cell = (text, i) => (right.has(i) ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const lines = rows.map((row) => `| ${row.map(cell).join(' | ')} |`);
  lines.splice(1, 0, `|${widths.map((w, i) => (right.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`);
  console.log(lines.join('\n'));
  console.log(
    `\nns/op: median over ${trials} trials (fresh processes); ratio = candidate / baseline, median of per-trial ` +
      `ratios; spread = min–max of those.\n${machine.cpus} × ${machine.cpuModel}, Linux ${machine.kernel}, ` +
      `Node ${machine.node}, ${new Date().toISOString().slice(0, 10)}`,
  );
}
