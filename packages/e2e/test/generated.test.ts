// Every generated file of the workspace with the function that renders it. `pnpm gen` (a turbo task running each
// package's `gen` script) writes them all; this is the one test that fails while a committed copy is stale.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReaderHeader } from '@tld/bpf-programs';
import { renderProfilerHeader } from '@tld/profiler';
import { REGENERATE_COMMAND, renderLayoutHeader } from '@tld/protocol';
import { renderTestkitHeader } from '@tld/testkit';

const require = createRequire(import.meta.url);

/** The committed file, found through its package's `exports`, and what it must contain. */
const GENERATED: ReadonlyArray<readonly [string, () => string]> = [
  ['@tld/protocol/include/tld_layout.h', renderLayoutHeader],
  ['@tld/bpf-programs/include/tld_reader.h', renderReaderHeader],
  ['@tld/profiler/include/tld_profiler.h', renderProfilerHeader],
  ['@tld/testkit/include/tld_testkit.h', renderTestkitHeader],
];

const rootPackage = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

describe('generated files', () => {
  it.each(GENERATED)('%s is what its generator renders, byte for byte', (specifier, render) => {
    const committed = readFileSync(require.resolve(specifier), 'utf8');
    expect(committed === render(), `${specifier} is stale: run \`${REGENERATE_COMMAND}\` and commit the result`).toBe(
      true,
    );
    expect(committed.split('\n')[0]).toContain('DO NOT EDIT');
    expect(committed.split('\n')[0]).toContain(`run \`${REGENERATE_COMMAND}\``);
  });

  it(`\`${REGENERATE_COMMAND}\` is the workspace's turbo task, and every package with a generated file has a gen script`, () => {
    expect(REGENERATE_COMMAND).toBe('pnpm gen');
    expect(rootPackage.scripts['gen']).toBe('turbo run gen');
    for (const [specifier] of GENERATED) {
      // include/<file> sits at the package's root, beside package.json.
      const manifest = JSON.parse(
        readFileSync(join(dirname(dirname(require.resolve(specifier))), 'package.json'), 'utf8'),
      ) as {
        name: string;
        scripts: Record<string, string>;
      };
      expect(manifest.scripts['gen'], `${manifest.name} has no gen script`).toMatch(/node gen\//);
    }
  });
});
