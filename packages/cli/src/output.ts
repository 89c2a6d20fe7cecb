// How every command reports: text for people on stdout, or one JSON document with -j/--json; errors as
// "tld: error: <cause and fix>" on stderr, or `{ "ok": false, "error": { code, message } }` on stdout with --json.
import { explain } from './explain.js';

/** tld's exit statuses (README "Exit status"). */
export const ExitCode = Object.freeze({
  /** The command did what it was asked; `tld status`: every check passed. */
  OK: 0,
  /** The command failed, or `tld status` found something missing: the message names the cause and the fix. */
  FAILURE: 1,
  /** The command line is wrong (unknown command or option, bad value): nothing was done. */
  USAGE: 2,
});
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export { CliError } from './errors.js';

export interface Output {
  readonly json: boolean;
  /** Prints a command's result: `text` for people, `data` (with ok: true) for --json. */
  result(data: Record<string, unknown>, text: string): void;
  /** Prints an error (explained: cause and fix) and returns ExitCode.FAILURE. */
  error(error: unknown): ExitCode;
  /** Prints a usage error that has a code (options that contradict each other) and returns ExitCode.USAGE. */
  usage(error: unknown): ExitCode;
}

/** bigint is not JSON: values that need 64 bits are printed as decimal strings. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** `compact` prints one line per document (tld dump --watch --json: one document per refresh). */
export function output(json: boolean, compact = false): Output {
  const print = (data: unknown): void => {
    process.stdout.write(`${JSON.stringify(data, replacer, compact ? undefined : 2)}\n`);
  };
  return {
    json,
    result(data, text) {
      if (json) print({ ok: true, ...data });
      else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    error(error) {
      const { code, message } = explain(error);
      if (json) print({ ok: false, error: { code, message } });
      else process.stderr.write(`tld: error: ${message} [${code}]\n`);
      return ExitCode.FAILURE;
    },
    usage(error) {
      this.error(error);
      return ExitCode.USAGE;
    },
  };
}

/** What a run of tld ends with; commands set it. */
export interface RunState {
  exitCode: ExitCode;
}

/**
 * Wraps a command's action: its return value (default OK) becomes the exit status, and an error it throws is
 * printed (explained, as JSON with --json) and becomes FAILURE.
 */
export function action<O extends { json: boolean }>(
  state: RunState,
  fn: (opts: O) => Promise<ExitCode | void> | ExitCode | void,
): (opts: O) => Promise<void> {
  return async (opts) => {
    try {
      state.exitCode = (await fn(opts)) ?? ExitCode.OK;
    } catch (error) {
      state.exitCode = output(opts.json).error(error);
    }
  };
}

/** Left-aligned columns for text tables. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** 0600-style rendering of permission bits. */
export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
