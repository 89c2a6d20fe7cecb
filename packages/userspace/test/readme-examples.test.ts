// The README's first example as users copy it: as an ECMAScript module (.mjs) and, in its CommonJS form, as a .cjs
// that require()s the package (require(esm)) on every Node.js version at hand (the system's, and those under
// .cache/node: tools/setup installs 22 and 24): both print the same. And the define() example prints what it shows.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfRequired, installedNodes } from '@tld/testkit';
import { type PinnedMaps, loadFixtureMaps, packageDir } from './fixture.js';

const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1] as string,
  body: m[2] as string,
}));

/** The one ```js block containing `marker`, and the ```text block right after it if there is one. */
function example(marker: string): { code: string; prints: string[] | undefined } {
  const found = blocks.flatMap((b, i) => (b.lang === 'js' && b.body.includes(marker) ? [i] : []));
  if (found.length !== 1) throw new Error(`expected one js block with ${marker}, found ${found.length}`);
  const at = found[0] as number;
  const next = blocks[at + 1];
  return {
    code: (blocks[at] as { body: string }).body,
    prints: next?.lang === 'text' ? next.body.trimEnd().split('\n') : undefined,
  };
}

/** Node.js binaries under .cache/node (tools/setup) or $TLD_NODE_CACHE, besides the one running the tests. */
function otherNodes(): string[] {
  return installedNodes().map((node) => node.bin);
}

describe('README examples', () => {
  let maps: PinnedMaps;
  const dir = join(packageDir, '.vitest');
  /** Writes `code` (open() on the test map) as .vitest/<file> and runs it with `node`: it must exit 0. */
  const runAs = (file: string, code: string, node = process.execPath): { stdout: string; stderr: string } => {
    mkdirSync(dir, { recursive: true });
    const script = join(dir, file);
    expect(code).toContain('TaskLocalData.open()');
    writeFileSync(script, code.replace('TaskLocalData.open()', 'TaskLocalData.open({ pinPath: process.env.TLD_PIN })'));
    const { status, stdout, stderr } = spawnSync(node, [script], {
      env: { ...process.env, TLD_PIN: maps.pin('tld_data_map') },
      encoding: 'utf8',
    });
    expect(status, stderr).toBe(0);
    return { stdout, stderr };
  };
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('the first example runs as .mjs, and its CommonJS form as .cjs prints the same on every Node.js version', () => {
    const esmCode = example('blob.view[0] = 1;                          // live view').code;
    const cjs = example("require('@tld/userspace')").code;
    const nodes = [process.execPath, ...otherNodes()];
    // CI installs 22 and 24 (tools/setup): there a missing one is a failure, not a shorter test.
    if (bpfRequired()) expect(nodes.length).toBeGreaterThanOrEqual(3);
    const versions: string[] = [];
    for (const node of nodes) {
      const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
      versions.push(version);
      // Against the .mjs on the same version: keys() lists tld.walk where run() takes the async-context walk.
      const esm = runAs('readme-example.mjs', esmCode, node);
      expect(esm.stdout.split('\n')[0]).toBe('42n');
      expect(esm.stdout).toContain("name: 'blob'");
      const run = runAs('readme-example.cjs', cjs, node);
      expect(run.stdout, `${version}: require('@tld/userspace')`).toBe(esm.stdout);
      expect(run.stderr, `${version}: no ExperimentalWarning`).toBe('');
    }
    console.info(`require('@tld/userspace') on ${versions.join(', ')}`);
  });

  it('the define() example prints what the README shows', () => {
    const { code, prints } = example('tld.define({');
    expect(runAs('readme-define.mjs', code).stdout.trimEnd().split('\n')).toEqual(prints);
  });
});
