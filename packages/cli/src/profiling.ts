// What `tld top` and `tld profile` share: the --by and --request options, finding the keys' sizes in the threads
// that will be profiled, loading the profiler on the host's map, and waiting until a deadline or a signal.
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { LabelSpec } from '@tld/profiler';
import { CliError } from './output.js';

export const MAX_LABELS = 4;

/** --by route,tenant: key names, at most four, each once. */
export function parseBy(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '' || n.includes('\0') || Buffer.byteLength(n) > 61)) {
    throw new InvalidArgumentError('give key names separated by commas, like route,tenant (each 1 to 61 bytes)');
  }
  if (names.length > MAX_LABELS) throw new InvalidArgumentError(`give at most ${MAX_LABELS} keys`);
  if (new Set(names).size !== names.length) throw new InvalidArgumentError('name each key once');
  return names;
}

/** --request KEY | none. */
export function parseRequest(value: string): string {
  if (value === '' || value.includes('\0') || Buffer.byteLength(value) > 61) {
    throw new InvalidArgumentError(
      'give the name of a u64 key holding the current request (0 between requests), or none',
    );
  }
  return value;
}

export function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 86_400)
    throw new InvalidArgumentError('give seconds, from 0.1 to 86400');
  return seconds;
}

export function parseHz(value: string): number {
  const hz = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(hz) || hz < 1 || hz > 10_000)
    throw new InvalidArgumentError('give samples per second per CPU, from 1 to 10000');
  return hz;
}

/**
 * The options top and profile share: --by (`what` says what the keys do, for the help), --request and --frequency.
 */
export function labelOptions(cmd: Command, what: string): Command {
  return cmd
    .addOption(
      new Option('--by <keys>', `${what}, comma-separated (at most ${MAX_LABELS})`)
        .default(['route'], 'route')
        .argParser(parseBy),
    )
    .addOption(
      new Option(
        '--request <key>',
        "u64 key holding the current request, 0 between requests; 'none' for no such key (default: req_id when it exists)",
      ).argParser(parseRequest),
    )
    .addOption(
      new Option('--frequency <hz>', 'CPU-clock samples per second on each CPU').default(99).argParser(parseHz),
    );
}

export interface KeyChoice {
  readonly labels: Required<LabelSpec>[];
  /** The request key, or undefined for none. */
  readonly request: string | undefined;
}

/**
 * Finds the sizes of the keys in the registered threads of `pids` (every process when undefined), through the task
 * iterator. A label found nowhere is an error naming `tld dump`; the request key defaults to `req_id` when an
 * 8-byte key of that name exists, 'none' turns it off.
 */
export async function chooseKeys(
  pin: string,
  pids: readonly number[] | undefined,
  by: readonly string[],
  request: string | undefined,
): Promise<KeyChoice> {
  const { loadTaskIterator } = await import('@tld/bpf-programs');
  const iterator = loadTaskIterator({ map: { pinPath: pin } });
  const sizes = new Map<string, number>();
  try {
    for (const pid of pids ?? [undefined]) {
      for (const task of iterator.readTasks(pid === undefined ? {} : { pid })) {
        for (const key of task.keys) if (!sizes.has(key.name)) sizes.set(key.name, key.size);
      }
    }
  } finally {
    iterator.close();
  }
  const where =
    pids === undefined ? 'no registered thread on this host' : `no registered thread of process ${pids.join(', ')}`;
  const labels = by.map((name) => {
    const size = sizes.get(name);
    if (size === undefined) {
      throw new CliError(
        'ERR_TLD_PROFILE_NO_KEY',
        `${where} has a key named '${name}': start the service first, or pick keys it publishes (tld dump lists them)`,
      );
    }
    return { name, size: Math.min(size, 64) };
  });
  if (request === 'none') return { labels, request: undefined };
  if (request === undefined) return { labels, request: sizes.get('req_id') === 8 ? 'req_id' : undefined };
  if (sizes.get(request) !== 8) {
    throw new CliError(
      'ERR_TLD_PROFILE_NO_KEY',
      `${where} has an 8-byte key named '${request}' for --request: name a u64 key that holds the current request, or none`,
    );
  }
  return { labels, request };
}

/** Checks the pin the way the library does, and that the profiler can use its value size. */
export async function checkPin(pin: string): Promise<void> {
  const { inspectPinnedMap } = await import('@tld/userspace');
  const map = inspectPinnedMap(pin);
  if (map.valueSize !== 16) {
    throw new CliError(
      'ERR_TLD_PROFILE_MAP_VALUE',
      `${pin} holds ${map.valueSize}-byte values; the profiler reads maps with 16-byte values: recreate it with tld map create`,
    );
  }
}

/** Resolves after `ms` or at SIGINT/SIGTERM, whichever comes first; true when interrupted. */
export function sleepOrSignal(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (interrupted: boolean): void => {
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(interrupted);
    };
    const stop = (): void => done(true);
    const timer = setTimeout(() => done(false), ms);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** A one-line progress report on stderr, rewritten in place on a terminal (nothing with --json or into a pipe). */
export function progress(enabled: boolean): { update(text: string): void; done(): void } {
  const tty = enabled && process.stderr.isTTY;
  let shown = false;
  return {
    update(text) {
      if (!tty) return;
      process.stderr.write(`\r\x1b[K${text}`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
