// tld top: CPU time per value of some keys, live, over the registered threads of every process (or --pid), from the
// kernel: on-CPU time charged at each switch-out and system call, and CPU-clock samples, by what each thread had
// published at that moment (@tld/profiler).
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Bucket, Profiler } from '@tld/profiler';
import { ExitCode, type RunState, action, columns, output } from '../output.js';
import { jsonOption, parsePid, pinOption } from '../options.js';
import { printable } from './dump.js';
import { chooseKeys, checkPin, labelOptions, parseSeconds, progress, sleepOrSignal } from '../profiling.js';

interface TopOptions {
  pin: string;
  pid?: number[];
  by: string[];
  request?: string;
  interval: number;
  frequency: number;
  count?: number;
  json: boolean;
}

export interface TopRow {
  /** Label values by key name; '(between requests)' or '(no value)' when nobody claimed the CPU. */
  readonly labels: Readonly<Record<string, string>>;
  readonly cpuMs: number;
  /** Percent of the interval's CPU time of the followed threads. */
  readonly share: number;
  /** Requests seen (new request values), when a request key is in use. */
  readonly requests?: number;
  readonly samples: number;
}

interface Totals {
  cpuNs: number;
  samples: number;
  requests: number;
}

function bucketId(b: Bucket): string {
  return `${b.tgid}\0${b.state}\0${b.userStack}\0${b.kernelStack}\0${b.labels.map((l) => (l ? Buffer.from(l).toString('hex') : '-')).join(',')}`;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('give a whole number of refreshes, 1 or more');
  return n;
}

async function top(opts: TopOptions): Promise<ExitCode> {
  await checkPin(opts.pin);
  const { loadProfiler, bucketLabels } = await import('@tld/profiler');
  const keys = await chooseKeys(opts.pin, opts.pid, opts.by, opts.request);
  const profiler: Profiler = loadProfiler({
    labels: keys.labels,
    ...(keys.request === undefined ? {} : { requestKey: keys.request }),
    ...(opts.pid === undefined ? {} : { pids: opts.pid }),
    map: { pinPath: opts.pin },
    sampleHz: opts.frequency,
  });
  const out = output(opts.json, true);
  const line = progress(!opts.json);
  const names = keys.labels.map((l) => l.name);
  const scope = opts.pid === undefined ? 'every registered thread' : `process ${opts.pid.join(', ')}`;
  try {
    profiler.attachTime();
    profiler.attachSampler();
    let previous = new Map<string, Totals>();
    for (let n = 0; opts.count === undefined || n < opts.count; n++) {
      line.update(`tld top: measuring ${scope} for ${opts.interval} s…`);
      const interrupted = await sleepOrSignal(opts.interval * 1000);
      line.done();
      const current = new Map<string, Totals>();
      const rows = new Map<
        string,
        { labels: Record<string, string>; cpuNs: number; samples: number; requests: number }
      >();
      for (const b of profiler.read().buckets) {
        const id = bucketId(b);
        current.set(id, { cpuNs: b.cpuNs, samples: b.samples, requests: b.requests });
        const before = previous.get(id) ?? { cpuNs: 0, samples: 0, requests: 0 };
        const labels = bucketLabels(names, b);
        const rowId = JSON.stringify(labels);
        const row = rows.get(rowId) ?? { labels, cpuNs: 0, samples: 0, requests: 0 };
        row.cpuNs += b.cpuNs - before.cpuNs;
        row.samples += b.samples - before.samples;
        row.requests += b.requests - before.requests;
        rows.set(rowId, row);
      }
      previous = current;
      const total = [...rows.values()].reduce((a, r) => a + r.cpuNs, 0);
      const list: TopRow[] = [...rows.values()]
        .filter((r) => r.cpuNs > 0 || r.samples > 0)
        .sort((a, b) => b.cpuNs - a.cpuNs)
        .map((r) => ({
          labels: r.labels,
          cpuMs: Math.round(r.cpuNs / 1e4) / 100,
          share: total > 0 ? Math.round((1e4 * r.cpuNs) / total) / 100 : 0,
          ...(keys.request === undefined ? {} : { requests: r.requests }),
          samples: r.samples,
        }));
      const time = new Date().toISOString();
      const head = [
        ...names.map((k) => k.toUpperCase()),
        'CPU ms',
        'SHARE',
        ...(keys.request ? ['REQUESTS'] : []),
        'SAMPLES',
      ];
      const table = columns([
        head,
        ...list.map((r) => [
          ...names.map((k) => printable(r.labels[k] ?? '')), // values come from any process: no terminal escapes
          r.cpuMs.toFixed(1).padStart(8),
          `${r.share.toFixed(1)}%`.padStart(6),
          ...(r.requests === undefined ? [] : [String(r.requests).padStart(8)]),
          String(r.samples).padStart(7),
        ]),
      ]);
      const title = `tld top - ${scope}, by ${names.join(',')}${keys.request ? `, requests: ${keys.request}` : ''} - every ${opts.interval} s - ${time}`;
      const clear = process.stdout.isTTY && !opts.json ? '\x1b[2J\x1b[H' : '';
      out.result(
        {
          time,
          intervalS: opts.interval,
          by: names,
          request: keys.request ?? null,
          totalCpuMs: Math.round(total / 1e4) / 100,
          rows: list,
        },
        `${clear}${title}\n\n${list.length > 0 ? table : '(no CPU time in this interval)'}\n`,
      );
      if (interrupted) break;
    }
  } finally {
    line.done();
    profiler.close();
  }
  return ExitCode.OK;
}

export function topCommand(program: Command, state: RunState): void {
  const cmd = program
    .command('top')
    .description('live CPU time per value of some keys (route, tenant, ...), measured by BPF in the kernel')
    .addOption(
      new Option(
        '--pid <pid>',
        'only the threads of this process (repeat for more; default: every registered thread)',
      ).argParser((value: string, previous: number[] | undefined) => [...(previous ?? []), parsePid(value)]),
    );
  labelOptions(cmd, 'the keys to group by')
    .addOption(new Option('--interval <seconds>', 'seconds between refreshes').default(1).argParser(parseSeconds))
    .addOption(new Option('--count <n>', 'stop after n refreshes (default: until interrupted)').argParser(parseCount))
    .addHelpText(
      'after',
      '\nCPU ms is on-CPU time charged at every switch-out and system call to the values the thread had published' +
        '\nthen; SAMPLES counts CPU-clock samples the same way. "(between requests)": the request key was 0;' +
        '\n"(no value)": the thread had no such key. With --json, one JSON document per refresh, one per line.' +
        '\n\nExample:\n  sudo npx tld top --by route,tenant --interval 2',
    );
  pinOption(jsonOption(cmd)).action(action(state, top));
}
