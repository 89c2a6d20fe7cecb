#!/usr/bin/env node
// `pnpm bench`: every case of every module in registry.ts, each trial in a fresh process (trial.ts), trials
// round-robin over the cases so a slow patch of the machine spreads over all of them. Writes bench-results.json
// (one object per measurement) and bench-results.svg (the chart), and prints the table.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadReader } from '@tld/bpf-programs';
import { loadCases } from './registry.js';
import { renderChart } from './chart.js';
import { aggregate, machine, markdownTable } from './report.js';
import type { BenchCase, TrialOptions, TrialResult } from './types.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const HELP = `Usage: pnpm bench [-- options]        (or: node tools/dist/bench/run.js [options])

Benchmarks task local data on both sides of the page: set() against plain stores, tld_get_data() in the kernel
against a fixed-offset load, thread registration and key creation, a loopback HTTP service, and what users would
pick instead. Each trial runs in a fresh process; needs BPF (root, Linux >= 6.13, BTF). Writes
bench-results.json and bench-results.svg (to --out, default: the repository root) and prints a Markdown table.

  --trials N      fresh-process trials per case (default 5; at least 5 unless --quick)
  --filter TEXT   only cases whose id or description contains TEXT (case-insensitive)
  --time MS       length of one in-process measurement in milliseconds (default 200)
  --rounds N      interleaved measurements per trial (default 4)
  --quick         tiny mode for the end-to-end test: 1 trial, short runs (numbers mean nothing)
  --out DIR       where to write bench-results.json and bench-results.svg
  -h, --help      this text`;

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${HELP}\n`);
  process.exit(2);
}

function parse(): { options: TrialOptions; trials: number; filter: string | undefined; out: string } {
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift(); // `pnpm bench -- --flag` hands the `--` through
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        trials: { type: 'string' },
        filter: { type: 'string' },
        time: { type: 'string' },
        rounds: { type: 'string' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string', default: ROOT },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const positive = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    return n;
  };
  const trials = positive('trials', values.trials, quick ? 1 : 5);
  if (!quick && trials < 5) usageError('--trials must be at least 5 (use --quick for a smoke run)');
  return {
    options: {
      quick,
      timeMs: positive('time', values.time, quick ? 5 : 200),
      rounds: positive('rounds', values.rounds, quick ? 1 : 4),
    },
    trials,
    filter: values.filter?.toLowerCase(),
    out: values.out ?? ROOT,
  };
}

/** Runs one trial in a fresh process; resolves with its result, rejects with its stderr. */
function runTrial(benchCase: BenchCase, options: TrialOptions): Promise<TrialResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./trial.js', import.meta.url), [benchCase.id, JSON.stringify(options)], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let result: TrialResult | undefined;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('message', (m) => {
      result = m as TrialResult;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`trial of ${benchCase.id} failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`));
    });
  });
}

const { options, trials, filter, out } = parse();
const cases = (await loadCases()).filter((c) => !filter || `${c.id} ${c.description}`.toLowerCase().includes(filter));
if (cases.length === 0) usageError(`--filter ${JSON.stringify(filter)} matches no case`);

// Fail early, with the reason, when this machine cannot run BPF (not root, old kernel, no BTF).
try {
  loadReader().close();
} catch (error) {
  process.stderr.write(
    `bench: needs BPF task local data (run as root on Linux >= 6.13 with BTF): ${(error as Error).message}\n`,
  );
  process.exit(1);
}

const results: TrialResult[] = [];
const tty = process.stderr.isTTY;
let done = 0;
try {
  for (let t = 1; t <= trials; t++) {
    for (const c of cases) {
      done += 1;
      const line = `[${done}/${cases.length * trials}] ${c.id} (trial ${t}/${trials}) ...`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      results.push(await runTrial(c, options));
    }
  }
} catch (error) {
  if (tty) process.stderr.write('\n');
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(1);
}
if (tty) process.stderr.write('\r\x1b[K');

const rows = aggregate(results);
const m = machine();
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench-results.json'), `${JSON.stringify(rows, null, 2)}\n`);
writeFileSync(join(out, 'bench-results.svg'), await renderChart(rows, m));
process.stdout.write(`${markdownTable(rows, m, trials)}\n`);
process.stderr.write(`bench: wrote ${join(out, 'bench-results.json')} and bench-results.svg\n`);
