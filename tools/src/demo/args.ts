// The demo's command line: node:util parseArgs, then every value checked; a bad one is a UsageError (exit 2).
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PIN_PATH } from '@tld/userspace';
import { ROUTES } from './workload.js';

export const USAGE =
  'Usage: pnpm demo [--duration S] [--tolerance PP] [--mode threads|async] [--json] [--svg PATH] ...\n' +
  '       pnpm demo --basic [--private | --pin PATH] [--json]';

export const HELP = `${USAGE}

Runs an HTTP server on 127.0.0.1 (the main thread and a pool of worker threads) under load from a separate
process. Each handler publishes route, req_id and tenant with task local data while it works, and measures its
own CPU time. Two BPF programs attribute the server's CPU to routes by reading those values in the kernel:
sched_switch charges every switched-out slice to the thread's current route, and a 99 Hz CPU-clock perf event
counts samples per route. At the end: a table, a terminal bar chart and an SVG chart comparing the app's and
BPF's shares; the exit status is 1 when they differ by more than the tolerance for any route.

Routes:
${ROUTES.map((r) => `  ${r.route.padEnd(12)} ${r.what}`).join('\n')}

Options:
  --duration S        how long the load runs, in seconds (default 15)
  --tolerance PP      largest allowed |BPF share - app share| per route, in percentage points (default 5)
  --mode M            threads: main thread + worker pool (default); async: the main thread alone serves
                      interleaved requests, values following the async context (TaskLocalData.run)
  --single-thread     same as --mode async
  --workers N         worker threads in threads mode (default 3)
  --concurrency N     requests the load generator keeps in flight (default 16)
  --max-requests N    stop the load after N requests even if time is left (default 1000000)
  --sample-hz N       perf_event samples per second per CPU (default 99)
  --svg PATH          where the chart goes (default ./tld-demo-routes.svg in the directory pnpm was run from)
  --private           the task-local-data map is private to the demo (default for the profile; nothing pinned)
  --pin PATH          use the map pinned at PATH instead (created 0600 and removed afterwards if missing)
  --json              print only the results as JSON
  --basic             the first step instead: four threads publish values and a BPF program reads them back
                      (default map: ${DEFAULT_PIN_PATH}, created and removed when missing)
  -h, --help          this text

Exit status: 0 attribution within tolerance, 1 outside it or a failure, 2 usage error, 130 interrupted.`;

/** A bad command line: printed with the usage, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type MapChoice = { readonly kind: 'private' } | { readonly kind: 'pin'; readonly path: string };

export interface DemoOptions {
  readonly help: boolean;
  readonly basic: boolean;
  readonly json: boolean;
  readonly map: MapChoice | undefined;
  readonly mode: 'threads' | 'async';
  readonly durationS: number;
  readonly tolerancePp: number;
  readonly workers: number;
  readonly concurrency: number;
  readonly maxRequests: number;
  readonly sampleHz: number;
  readonly svgPath: string;
}

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

const PROFILE_ONLY = [
  'duration',
  'tolerance',
  'mode',
  'single-thread',
  'workers',
  'concurrency',
  'max-requests',
  'sample-hz',
  'svg',
] as const;

/** Parses the demo's arguments. Throws UsageError for anything it does not accept. */
export function parseDemoArgs(args: readonly string[], cwd = process.env['INIT_CWD'] ?? process.cwd()): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        basic: { type: 'boolean' },
        json: { type: 'boolean' },
        private: { type: 'boolean' },
        pin: { type: 'string' },
        mode: { type: 'string' },
        'single-thread': { type: 'boolean' },
        duration: { type: 'string' },
        tolerance: { type: 'string' },
        workers: { type: 'string' },
        concurrency: { type: 'string' },
        'max-requests': { type: 'string' },
        'sample-hz': { type: 'string' },
        svg: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.basic) {
    const misplaced = PROFILE_ONLY.find((name) => values[name] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} applies to the profiling demo, not to --basic`);
  }
  if (values.private && values.pin !== undefined) throw new UsageError('give --private or --pin, not both');
  if (values.pin !== undefined && !values.pin.startsWith('/sys/fs/bpf/')) {
    throw new UsageError(`--pin must be a path under /sys/fs/bpf/, got ${JSON.stringify(values.pin)}`);
  }
  if (values.mode !== undefined && values.mode !== 'threads' && values.mode !== 'async') {
    throw new UsageError(`--mode must be threads or async, got ${JSON.stringify(values.mode)}`);
  }
  if (values['single-thread'] && values.mode === 'threads')
    throw new UsageError('--single-thread contradicts --mode threads');
  const mode = values['single-thread'] ? 'async' : (values.mode ?? 'threads');
  if (mode === 'async' && values.workers !== undefined)
    throw new UsageError('--workers applies to --mode threads only');
  if (values.svg === '') throw new UsageError('--svg needs a path');
  const svg = values.svg ?? 'tld-demo-routes.svg';
  return {
    help: values.help ?? false,
    basic: values.basic ?? false,
    json: values.json ?? false,
    map:
      values.pin !== undefined ? { kind: 'pin', path: values.pin } : values.private ? { kind: 'private' } : undefined,
    mode,
    durationS: number('duration', values.duration, 15, 0.5, 3600, false),
    tolerancePp: number('tolerance', values.tolerance, 5, 0.1, 100, false),
    workers: number('workers', values.workers, 3, 1, 64, true),
    concurrency: number('concurrency', values.concurrency, 16, 1, 1024, true),
    maxRequests: number('max-requests', values['max-requests'], 1_000_000, 1, 100_000_000, true),
    sampleHz: number('sample-hz', values['sample-hz'], 99, 1, 10_000, true),
    svgPath: isAbsolute(svg) ? svg : resolve(cwd, svg),
  };
}
