// tld dump: every thread on the host registered in the map, with its keys and values as BPF sees them, read by
// the task iterator of @tld/bpf-programs (a user-space lookup would return the page pointers zeroed).
import { type Command, Option } from 'commander';
import type { ContextFrom, ContextSource, RegisteredTask, TaskIterator } from '@tld/bpf-programs';
import { ExitCode, type RunState, action, output } from '../output.js';
import { jsonOption, parseInterval, parsePid, pinOption } from '../options.js';
import { withCheckedPin } from '../pin-dirs.js';
import { type ValueReadings, readValue } from '../values.js';

interface DumpOptions {
  pin: string;
  pid?: number;
  watch?: number | true;
  json: boolean;
}

export interface ThreadReport {
  readonly tid: number;
  readonly pid: number;
  /** The thread's name (task->comm, as in /proc/PID/task/TID/comm): a worker's `name` on Node.js ≥ 22. */
  readonly comm: string;
  /** The process's first thread (tid = pid): a Node.js main thread. */
  readonly mainThread: boolean;
  /** Whether the thread's element has both pages (else BPF programs read nothing for it). */
  readonly registered: boolean;
  /**
   * The walk to the run() the thread is in (tld_get_context_data() of tld.bpf.h): 'run' (a run's record was found),
   * 'page' (outside any run, or the thread publishes no walk) or 'no value' with the errno the walk gave.
   */
  readonly context: { readonly status: 'run' | 'page' | 'no value'; readonly errno?: number };
  readonly keys: readonly {
    name: string;
    size: number;
    offset: number;
    /** The page's value. */
    value: ValueReadings;
    /** The value the thread's current async context sees: its run's where the run sets the key, else the page's. */
    context: { from: ContextSource; value?: ValueReadings };
  }[];
}

/** `from` is @tld/bpf-programs' ContextFrom (the package is loaded only when dump runs). */
function contextOf(status: number, from: typeof ContextFrom): ThreadReport['context'] {
  if (status === from.CONTEXT) return { status: 'run' };
  if (status === from.PAGE) return { status: 'page' };
  return { status: 'no value', errno: -status };
}

function report(task: RegisteredTask, from: typeof ContextFrom): ThreadReport {
  return {
    tid: task.tid,
    pid: task.tgid,
    comm: task.comm,
    mainThread: task.tid === task.tgid,
    registered: task.registered,
    context: contextOf(task.contextStatus, from),
    keys: task.keys.map((k) => ({
      name: k.name,
      size: k.size,
      offset: k.offset,
      value: readValue(k.value),
      context: { from: k.context.from, ...(k.context.value ? { value: readValue(k.context.value) } : {}) },
    })),
  };
}

/**
 * Control characters escaped (C0, DEL, C1 as \xNN; the bidirectional overrides, which reorder what follows, as
 * \uNNNN): every process on the host chooses its key names, values and thread names, and printed raw they could
 * drive the administrator's terminal (set its title, clear it, hide text). --json keeps them exact.
 */
export function printable(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (!isControl(code)) out += c;
    else out += code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** C0, DEL, C1 and the bidirectional embeddings, overrides and isolates. */
export function isControl(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

function text(pin: string, threads: readonly ThreadReport[]): string {
  const lines: string[] = [];
  for (const t of threads) {
    const role = t.mainThread ? '  (main thread)' : '';
    const context =
      t.context.status === 'page'
        ? ''
        : t.context.status === 'run'
          ? '  (in a run)'
          : `  (walk: no value, errno ${t.context.errno ?? 0})`;
    lines.push(
      `tid ${t.tid}  pid ${t.pid}  ${printable(t.comm)}${role}${t.registered ? '' : '  (element without pages: not readable)'}${context}`,
    );
    const names = t.keys.map((k) => printable(k.name));
    const width = Math.max(0, ...names.map((name) => name.length));
    const shown = t.keys.map((k) => printable(k.value.text));
    const pageWidth = Math.max(
      0,
      ...t.keys.map((k, i) => (k.context.from === 'context' ? (shown[i] ?? '').length : 0)),
    );
    t.keys.forEach((k, i) => {
      const run = k.context.from === 'context' ? `  run: ${printable(k.context.value?.text ?? '')}` : '';
      const page = shown[i] ?? '';
      lines.push(
        `  ${(names[i] ?? '').padEnd(width)}  ${`${k.size}B`.padStart(5)}  ${run ? page.padEnd(pageWidth) : page}${run}`,
      );
    });
    if (t.registered && t.keys.length === 0) lines.push('  (no keys yet)');
  }
  const processes = new Set(threads.map((t) => t.pid)).size;
  lines.push(
    `${threads.length} thread${threads.length === 1 ? '' : 's'} in ${processes} process${processes === 1 ? '' : 'es'} registered in ${pin}`,
  );
  return lines.join('\n');
}

function readOnce(iterator: TaskIterator, opts: DumpOptions, from: typeof ContextFrom): ThreadReport[] {
  return iterator
    .readTasks(opts.pid === undefined ? {} : { pid: opts.pid })
    .map((task) => report(task, from))
    .sort((a, b) => a.pid - b.pid || a.tid - b.tid);
}

/** Refreshes every `seconds` until SIGINT or SIGTERM (then resolves) or until a refresh throws (then rejects). */
function watch(seconds: number, refresh: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: unknown): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('refreshing failed', { cause: error }));
    };
    const stop = (): void => finish();
    const tick = (): void => {
      try {
        refresh();
      } catch (error) {
        finish(error);
      }
    };
    const timer = setInterval(tick, seconds * 1000);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    tick();
  });
}

async function dump(opts: DumpOptions): Promise<ExitCode> {
  const { inspectPinnedMap } = await import('@tld/userspace');
  const { loadTaskIterator, ContextFrom: from } = await import('@tld/bpf-programs');
  // A typed error naming the fix when the pin is missing or not a task-local-data map (16- or 24-byte values).
  inspectPinnedMap(opts.pin);
  // The iterator's build follows the pinned map's value size; keys are read at the `start` its readers use.
  const iterator = await withCheckedPin(opts.pin, (pinPath) => loadTaskIterator({ map: { pinPath } }));
  try {
    const out = output(opts.json, opts.watch !== undefined);
    const print = (): void => {
      const threads = readOnce(iterator, opts, from);
      const time = new Date().toISOString();
      // --watch on a terminal redraws the screen; into a pipe it appends, each refresh headed by its time.
      const head = opts.watch === undefined ? '' : `${process.stdout.isTTY ? '\x1b[2J\x1b[H' : '\n'}${time}\n`;
      out.result({ pin: opts.pin, time, threads }, head + text(opts.pin, threads));
    };
    if (opts.watch === undefined) print();
    else await watch(opts.watch === true ? 1 : opts.watch, print);
  } finally {
    iterator.close();
  }
  return ExitCode.OK;
}

export function dumpCommand(program: Command, state: RunState): void {
  const cmd = program
    .command('dump')
    .description('list every thread registered in the map with its keys and values, read through a BPF task iterator')
    .addOption(new Option('--pid <pid>', 'only the threads of this process').argParser(parsePid))
    .addOption(
      new Option('-w, --watch [seconds]', 'refresh every few seconds (default 1) until interrupted').argParser(
        parseInterval,
      ),
    )
    .addHelpText(
      'after',
      '\nValues are shown by their likeliest reading (text, integer, float, else hex); --json gives every reading:\n' +
        '{ hex, uint, int, float, string } as they apply to the size. With --watch --json, one JSON document per line.',
    );
  pinOption(jsonOption(cmd)).action(action(state, dump));
}
