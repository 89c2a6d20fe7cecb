// Which Node.js runs the async-context cases: this one when its AsyncLocalStorage runs on AsyncContextFrame,
// otherwise Node.js 24 from the workspace's .cache/node (tools/setup installs it), since the walk needs
// AsyncContextFrame and the target figures are for Node 24.
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ContextNode {
  readonly bin: string;
  readonly version: string;
  /** Why not this process's Node.js (null when it is). */
  readonly note: string | null;
}

/** Text check only: it enables nothing in this process. */
function hasContextFrame(): boolean {
  return /AsyncContextFrame/.test(Function.prototype.toString.call(AsyncLocalStorage));
}

export function contextNode(): ContextNode {
  if (hasContextFrame()) return { bin: process.execPath, version: process.version, note: null };
  // TLD_NODE_CACHE: another directory laid out like .cache/node.
  const base = process.env['TLD_NODE_CACHE'] ?? join(ROOT, '.cache', 'node');
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => v.startsWith('v24.'))
        .sort()
    : [];
  for (const version of versions.reverse()) {
    const bin = join(base, version, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
    if (!existsSync(bin)) continue;
    const got = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    return { bin, version: got, note: `${process.version} has no AsyncContextFrame: measured on ${got} from ${base}` };
  }
  throw new Error(
    `the async-context cases need Node.js with AsyncContextFrame: ${process.version} has none and ${base} has no v24 (run tools/setup)`,
  );
}
