// Running tld and a consumer application as child processes, the way people and CI run them.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { installedNode, nodeCacheDir } from '@tld/testkit';

export const binPath = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
export const consumerPath = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));
/** test/fixtures/burn-service.mjs: known CPU per route in named functions, measured by the service itself. */
export const burnServicePath = fileURLToPath(new URL('./fixtures/burn-service.mjs', import.meta.url));

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` to completion (by default `node dist/bin.js`). */
export function run(
  args: readonly string[],
  options: { command?: readonly string[]; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Run {
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
  const child: ChildProcessWithoutNullStreams = spawn(
    options.node ?? process.execPath,
    [options.script ?? consumerPath, pin],
    {
      cwd: options.cwd,
      env: options.env ?? process.env,
    },
  );
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

export interface BurnService {
  readonly pid: number;
  /** How its run() carries the values: 'walk' (BPF walks the async context) or 'page'; null: page is the only one. */
  readonly asyncContext: string | null;
  /** The CPU the service measured itself so far: per route ('(between requests)' too) and its thread's total. */
  measure(): Promise<{ totalNs: number; routes: Record<string, number> }>;
  stop(): Promise<number | null>;
}

/** Starts the burn service (test/fixtures/burn-service.mjs) on `pin` (MODE run or set) and waits until its keys exist. */
export async function startBurnService(
  script: string,
  pin: string,
  mode: 'run' | 'set',
  nodeArgs: readonly string[] = ['--perf-basic-prof'],
  node = process.execPath,
): Promise<BurnService> {
  // In the temporary directory: node --perf-basic-prof leaves an isolate-*.log in its working directory.
  const child = spawn(node, [...nodeArgs, script, pin, mode], { cwd: tmpdir() });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await Promise.race([
      lines.next(),
      exited.then(([code]) => {
        throw new Error(`the burn service exited with ${code}:\n${stderr}`);
      }),
    ]);
    if (line.done) throw new Error(`the burn service closed its output:\n${stderr}`);
    return line.value;
  };
  const { pid, asyncContext } = JSON.parse(await next()) as { pid: number; asyncContext: string | null };
  return {
    pid,
    asyncContext,
    async measure() {
      child.stdin.write('\n');
      return JSON.parse(await next()) as { totalNs: number; routes: Record<string, number> };
    },
    async stop() {
      child.stdin.end();
      const [code] = await exited;
      return code;
    },
  };
}

/** The Node.js binary of major version `major` that tools/setup installs under .cache/node; throws without it. */
export function nodeBinary(major: number): string {
  const bin = installedNode(major);
  if (bin === undefined) throw new Error(`no Node.js ${major} under ${nodeCacheDir()}: run tools/setup`);
  return bin;
}

/** The per-route difference between two measures, as shares (percent) of the thread's CPU in between. */
export function measuredShares(
  before: { totalNs: number; routes: Record<string, number> },
  after: { totalNs: number; routes: Record<string, number> },
): Record<string, number> {
  const total = after.totalNs - before.totalNs;
  return Object.fromEntries(
    Object.entries(after.routes).map(([r, ns]) => [r, (100 * (ns - (before.routes[r] ?? 0))) / total]),
  );
}
