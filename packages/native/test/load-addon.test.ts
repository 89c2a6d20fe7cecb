// The loader's failures are TldErrors with code ERR_TLD_ADDON whatever went wrong, with the fix in the message.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TldError } from '@tld/protocol';
import { loadAddon, rebuildHint } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'tld-native-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function thrown(fn: () => unknown): TldError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TldError);
    return error as TldError;
  }
  throw new Error('expected a throw');
}

describe('loadAddon', () => {
  it('no addon for this machine: ERR_TLD_ADDON with the rebuild command', () => {
    const packageDir = join(work, 'empty');
    mkdirSync(packageDir);
    const error = thrown(() => loadAddon({ packageName: '@tld/example', packageDir, what: 'native addon' }));
    expect(error.code).toBe('ERR_TLD_ADDON');
    expect(error.message).toMatch(/^@tld\/example: no native addon for this machine in /);
    expect(error.message).toContain('npm rebuild @tld/example');
    expect(error.message).toContain('allowBuilds: { "@tld/example": true }');
  });

  it.each([false, true])('an addon that does not load (global: %s): ERR_TLD_ADDON, the load hint first', (global) => {
    const packageDir = join(work, `broken-${String(global)}`);
    mkdirSync(join(packageDir, 'build', 'Release'), { recursive: true });
    writeFileSync(join(packageDir, 'build', 'Release', 'broken.node'), 'not an ELF file');
    const spec = { packageName: '@tld/example', packageDir, what: 'loader addon', global, buildNeeds: 'libbpf-dev' };
    const plain = thrown(() => loadAddon(spec));
    expect(plain.code).toBe('ERR_TLD_ADDON');
    expect(plain.message).toContain('cannot load its loader addon');
    expect(plain.message).toContain(rebuildHint(spec));
    expect(rebuildHint(spec)).toContain('python3, make, a C++ compiler and libbpf-dev');
    const hinted = thrown(() => loadAddon({ ...spec, loadHint: () => 'install libfoo' }));
    expect(hinted.message).toMatch(/install libfoo$/);
  });
});
