// The Node.js binaries whose run() takes the async-context walk by default (majors 24 and later), as tools/setup
// installs them under .cache/node (or $TLD_NODE_CACHE, laid out the same way), and a child script run on one: the
// walk tests of several packages run one child per binary and judge the JSON line it prints last.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** A cached Node.js binary and the flags that make its run() take the walk; `label` names both in test titles. */
export interface WalkNode {
  readonly label: string;
  readonly bin: string;
  readonly args: readonly string[];
}

/** Every cached Node.js that can take the walk: 22 with --experimental-async-context-frame, 24 and later as is. */
export function walkConfigs(): WalkNode[] {
  const base = process.env['TLD_NODE_CACHE'] ?? join(root, '.cache', 'node');
  if (!existsSync(base)) return [];
  return readdirSync(base).flatMap((version) => {
    const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
    const bin = join(base, version, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
    if (major < 22 || !existsSync(bin)) return [];
    const args = major < 24 ? ['--experimental-async-context-frame'] : [];
    return [{ label: [version, ...args].join(' '), bin, args }];
  });
}

/** Paths of the node binaries of majors 24+ (the walk by default), in directory order; none without the cache. */
export function walkNodes(): string[] {
  return walkConfigs()
    .filter((node) => node.args.length === 0)
    .map((node) => node.bin);
}

/** What a child printed: its exit status, its stderr, and its last stdout line parsed as JSON ({} when none). */
export interface WalkChild<T> {
  readonly status: number | null;
  readonly stderr: string;
  readonly result: Partial<T>;
}

/**
 * Runs `script` on `node` (a binary, or a WalkNode with its flags; two minutes at most) with `env` added to this
 * process's environment.
 */
export function runWalkChild<T>(
  node: string | WalkNode,
  script: string,
  env: Record<string, string> = {},
): WalkChild<T> {
  const [bin, args] = typeof node === 'string' ? [node, []] : [node.bin, node.args];
  const child = spawnSync(bin, [...args, script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  return { status: child.status, stderr: child.stderr, result: (last === '' ? {} : JSON.parse(last)) as Partial<T> };
}
