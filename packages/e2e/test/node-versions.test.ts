// The async-context tests on Node.js 22, 24 and 26 as well, with and without AsyncContextFrame: run() picks its hooks
// by feature detection, and each Node.js version and mode takes another path. tools/setup installs the binaries
// under .cache/node (npm's node-linux-<arch> packages); the addons are Node-API, so the same build loads.
// Without them the tests skip, except under TLD_REQUIRE_BPF=1 (CI, where tools/setup ran): there they fail.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bpfRequired, bpfSupport } from '@tld/testkit';

const support = bpfSupport();
const root = fileURLToPath(new URL('../../..', import.meta.url));
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** Node.js binaries tools/setup installed, by major version. */
function installedNodes(): Map<number, string> {
  const found = new Map<number, string>();
  const base = process.env['TLD_NODE_CACHE'] ?? join(root, '.cache', 'node'); // or a directory laid out the same way
  if (!existsSync(base)) return found;
  for (const version of readdirSync(base)) {
    const modules = join(base, version, 'node_modules');
    if (!existsSync(modules)) continue;
    for (const pkg of readdirSync(modules).filter((name) => name.startsWith('node-linux-'))) {
      const bin = join(modules, pkg, 'bin', 'node');
      if (!existsSync(bin)) continue;
      const major = Number(
        execFileSync(bin, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim(),
      );
      found.set(major, bin);
    }
  }
  return found;
}

const nodes = installedNodes();
const CONFIGS = [
  { major: 22, flags: '', mechanism: 'async-hooks', walk: false },
  { major: 22, flags: '--experimental-async-context-frame', mechanism: 'context-frame+async-hooks', walk: true },
  { major: 24, flags: '', mechanism: 'context-frame', walk: true },
  { major: 24, flags: '--no-async-context-frame', mechanism: 'async-hooks', walk: false },
  { major: 26, flags: '', mechanism: 'context-frame', walk: true },
];

/** Runs `files` of the package in `dir` with vitest on `bin`; returns its output (throws with it on failure). */
function vitestOn(bin: string, flags: string, dir: string, files: string[]): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('VITEST')) env[name] = value;
  // The default reporter only: the package's JSON report belongs to the outer run.
  const result = spawnSync(bin, [vitest, 'run', ...files, '--reporter=default'], {
    cwd: join(root, 'packages', dir),
    env: { ...env, NODE_OPTIONS: flags, TLD_REQUIRE_BPF: '1', FORCE_COLOR: '0', NO_COLOR: '1' },
    encoding: 'utf8',
  });
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.status !== 0) throw new Error(`vitest on ${bin} ${flags} in packages/${dir} failed:\n${output}`);
  return output;
}

describe.skipIf(!support.supported)('async context on other Node.js versions', () => {
  for (const { major, flags, mechanism, walk } of CONFIGS) {
    const bin = nodes.get(major);
    it.skipIf(!bin && !bpfRequired())(
      `Node ${major} ${flags || '(defaults)'}: ${mechanism}; the proof and the semantics tests pass`,
      () => {
        if (!bin) throw new Error(`no Node.js ${major} under ${join(root, '.cache', 'node')}: run tools/setup`);
        const proof = vitestOn(bin, flags, 'e2e', ['test/async-context.test.ts']);
        expect(proof).toMatch(
          new RegExp(
            `run\\(\\) on Node v${major}\\.\\S* ?\\S* \\(${mechanism.replace('+', '\\+')}\\): \\d+ checkpoints, 0 mismatches`,
          ),
        );
        expect(proof).toMatch(/Tests\s+2 passed \(2\)/);
        const semantics = vitestOn(bin, flags, 'userspace', ['test/async-context.test.ts']);
        expect(semantics).toMatch(/Tests\s+\d+ passed \(\d+\)/);
        expect(semantics).not.toMatch(/skipped|failed/);
      },
      240_000,
    );

    // The walk's proof (tld_get_context_data() at checkpoints, CPU samples, idle entries, corrupted facts): with
    // the walk where run() uses it, through the page elsewhere.
    it.skipIf(!bin && !bpfRequired())(
      `Node ${major} ${flags || '(defaults)'}: BPF reads each context ${walk ? 'through the walk' : 'from the page'}, 0 wrong`,
      () => {
        if (!bin) throw new Error(`no Node.js ${major} under ${join(root, '.cache', 'node')}: run tools/setup`);
        const proof = vitestOn(bin, flags, 'e2e', ['test/context-proof.test.ts']);
        expect(proof).toMatch(
          new RegExp(
            `${walk ? 'walk' : 'page'} on Node v${major}\\.\\S* \\(${walk ? 'walk' : 'async-hooks'}\\): \\d+ checkpoints ` +
              '\\(0\\+0\\+0 wrong, 0\\+0\\+0 no value\\); samples: \\d+ cpu \\(\\d+ in busy windows\\), \\d+ idle, \\d+ no value, 0 wrong',
          ),
        );
        expect(proof).toMatch(walk ? /Tests\s+7 passed \(7\)/ : /Tests\s+2 passed \(2\)/);
      },
      240_000,
    );
  }
});
