// testkit's own helpers, on their own: what every other package's tests build on.
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bpfSupport, fileMode, kernelAtLeast, pinFixtureMaps, uniquePinPath } from '../src/index.js';

describe('kernelAtLeast', () => {
  it.each([
    ['6.13', '6.13.0', true],
    ['6.13', '6.18.1-amd64', true],
    ['6.13', '6.12.9', false],
    ['6.13', '7.0', true],
    ['6.9', '6.10', true],
    ['6.13', 'x.y', false],
  ])('%s on %s: %s', (min, rel, expected) => {
    expect(kernelAtLeast(min, rel)).toBe(expected);
  });
});

describe('uniquePinPath', () => {
  it('is fresh on every call, under /sys/fs/bpf, with the tag made path-safe', () => {
    const a = uniquePinPath('a/b c');
    const b = uniquePinPath('a/b c');
    expect(a).not.toBe(b);
    expect(a).toMatch(new RegExp(`^/sys/fs/bpf/tld-test-${process.pid}-\\d+-a_b_c$`));
    expect(existsSync(a)).toBe(false);
  });
});

const support = bpfSupport();

describe.skipIf(!support.supported)('pinFixtureMaps', () => {
  it('pins every fixture map 0600 in a directory of its own, and remove() takes both directories away', () => {
    const maps = pinFixtureMaps();
    try {
      expect(readdirSync(maps.dir)).toEqual(
        expect.arrayContaining([
          'tld_data_map',
          'tld_data_map_v2',
          'plain_map',
          'small_map',
          'wide_map',
          'tld_wrong_map_type',
        ]),
      );
      for (const name of ['tld_data_map', 'wide_map'] as const) expect(fileMode(maps.pin(name))).toBe(0o600);
      expect(readdirSync(maps.progDir)).toEqual(['noop']);
    } finally {
      maps.remove();
    }
    expect(existsSync(maps.dir)).toBe(false);
    expect(existsSync(maps.progDir)).toBe(false);
  });
});
