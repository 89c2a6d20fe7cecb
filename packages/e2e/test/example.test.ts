// The examples of the @tld/bpf-programs README: the BPF one (examples/req_trace.bpf.c) passes the verifier, and
// the TypeScript one runs as written and prints what its comment says.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadObject, objectPaths } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';

const support = bpfSupport();

/** The one ```ts block of the @tld/bpf-programs README that contains `containing`. */
function readmeBlock(containing: string): string {
  const packageDir = dirname(dirname(createRequire(import.meta.url).resolve('@tld/bpf-programs')));
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes(containing));
  expect(blocks, `one \`\`\`ts block with ${containing}`).toHaveLength(1);
  return blocks[0]!;
}

describe.skipIf(!support.supported)('README example', () => {
  it('loads (tld_data_map private) with its program and maps', () => {
    const obj = loadObject(objectPaths.example);
    try {
      expect(Object.keys(obj.progs)).toEqual(['on_sys_enter']);
      expect(obj.maps).toHaveProperty('tld_data_map');
      expect(obj.maps).toHaveProperty('tld_key_map');
      expect(obj.createdPins).toEqual([]);
    } finally {
      obj.close();
    }
  });

  it('the TypeScript example runs and prints what its comment says', () => {
    const example = readmeBlock('loadReader(');
    const promised = /console\.log\(.*\); \/\/ (.*)$/m.exec(example)?.[1];
    expect(promised, 'the example states its output in a comment').toBeDefined();
    // Plain JavaScript too; run from this package so its imports resolve as an application's would.
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', example], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(promised);
  });
});
