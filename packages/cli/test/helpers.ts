// Running tld and a consumer application as child processes, the way people and CI run them.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const binPath = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
export const consumerPath = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` to completion (by default `node dist/bin.js`). */
export function run(args: readonly string[], options: { command?: readonly string[]; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const [file, ...pre] = options.command ?? [process.execPath, binPath];
  const result = spawnSync(file ?? process.execPath, [...pre, ...args], {
    encoding: 'utf8',
    cwd: options.cwd,
    env: options.env ?? process.env,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** tld's JSON output (stdout of a --json run). */
export function json(result: Run): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export interface Consumer {
  readonly pid: number;
  /** Closes its stdin (it unregisters its threads and exits) and waits for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts test/fixtures/consumer.mjs (or `script`) on `pin` and waits until its main thread and its worker have
 * published their values.
 */
export async function startConsumer(
  pin: string,
  options: { script?: string; cwd?: string; env?: NodeJS.ProcessEnv; node?: string } = {},
): Promise<Consumer> {
  const child: ChildProcessWithoutNullStreams = spawn(options.node ?? process.execPath, [options.script ?? consumerPath, pin], {
    cwd: options.cwd,
    env: options.env ?? process.env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    exited.then(([code]) => {
      throw new Error(`the consumer exited with ${code} before publishing:\n${stderr}`);
    }),
  ]);
  const { pid } = JSON.parse(first[0]) as { pid: number };
  return {
    pid,
    async stop() {
      child.stdin.end();
      const [code] = await exited;
      return code;
    },
  };
}
