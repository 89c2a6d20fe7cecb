// The extra Node.js binaries tools/setup installs under .cache/node (or $TLD_NODE_CACHE, laid out the same way), and
// running a test's child script on one of them: for tests that prove something on several Node.js versions.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root, from src/ or dist/ of this package. */
const workspaceRoot = fileURLToPath(new URL('../../..', import.meta.url));

export interface InstalledNode {
  /** The directory's name: 'v24.21.0'. */
  readonly version: string;
  readonly major: number;
  /** The binary for this machine's architecture. */
  readonly bin: string;
}

/** Where tools/setup puts the binaries: $TLD_NODE_CACHE, else .cache/node of the workspace. */
export function nodeCacheDir(): string {
  return process.env['TLD_NODE_CACHE'] ?? join(workspaceRoot, '.cache', 'node');
}

/** Every installed Node.js of major `minMajor` or later, oldest first (none when nothing is installed). */
export function installedNodes(minMajor = 0): InstalledNode[] {
  const base = nodeCacheDir();
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .map((version) => ({
      version,
      major: Number(/^v(\d+)\./.exec(version)?.[1] ?? 0),
      bin: join(base, version, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node'),
    }))
    .filter((node) => node.major >= minMajor && existsSync(node.bin))
    .sort((a, b) => a.major - b.major);
}

/** An installed Node.js with the flags that make its run() take the async-context walk. */
export interface WalkNode {
  /** The version and the flags, for test titles: 'v22.23.3 --experimental-async-context-frame'. */
  readonly label: string;
  readonly bin: string;
  readonly args: readonly string[];
}

/** Every installed Node.js that can take the walk: 22 with --experimental-async-context-frame, 24 and later as is. */
export function walkConfigs(): WalkNode[] {
  return installedNodes(22).map(({ version, major, bin }) => {
    const args = major < 24 ? ['--experimental-async-context-frame'] : [];
    return { label: [version, ...args].join(' '), bin, args };
  });
}

/**
 * Runs `script` with `node` (a binary, or a WalkNode with its flags; environment: this process's plus `env`) and
 * returns the JSON document its last line of stdout holds. Throws, with the child's stderr, when it does not exit 0.
 */
export function runNodeScript<T>(node: string | WalkNode, script: string | URL, env: Record<string, string> = {}): T {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const [bin, args] = typeof node === 'string' ? [node, []] : [node.bin, node.args];
  const child = spawnSync(bin, [...args, path], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (child.status !== 0) {
    throw new Error(`${path} on ${bin} exited with ${child.status ?? child.signal}:\n${child.stderr}`);
  }
  return JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as T;
}

/** What a walk child script (http's and otel's walk-child.mjs) prints last: BPF's readings against the expected. */
export interface WalkChildReport {
  readonly asyncContext: string;
  readonly readings: number;
  readonly mismatches: unknown[];
  readonly mismatchCount: number;
}

/** The installed binary of major `major`, if tools/setup installed one. */
export function installedNode(major: number): string | undefined {
  return installedNodes(major).find((node) => node.major === major)?.bin;
}

/**
 * What a walk child prints as its last line of stdout: a WalkChildReport (the first five mismatches, and how many)
 * with `extra`, the child's own findings.
 */
export function printWalkReport(
  asyncContext: string,
  readings: number,
  mismatches: readonly unknown[],
  extra: Record<string, unknown>,
): void {
  const report: WalkChildReport = {
    asyncContext,
    readings,
    mismatches: mismatches.slice(0, 5),
    mismatchCount: mismatches.length,
  };
  console.log(JSON.stringify({ ...report, ...extra }));
}
