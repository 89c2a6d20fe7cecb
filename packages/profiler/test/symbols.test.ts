// Naming addresses: the ELF reader against nm (binutils), the perf map parser, label texts, and option checks.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NO_VALUE,
  Symbolizer,
  encodeSettings,
  findSymbol,
  labelText,
  loadProfiler,
  readElfSymbols,
  readPerfMap,
  toSvg,
} from '../src/index.js';

describe('ELF symbols', () => {
  it('finds the functions nm lists in the node executable, at the same addresses', () => {
    const elf = readElfSymbols(process.execPath);
    expect(elf).toBeDefined();
    const nm = execFileSync('nm', ['--defined-only', process.execPath], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const wanted = ['uv_run', 'uv_loop_init'];
    for (const name of wanted) {
      const line = nm.split('\n').find((l) => l.endsWith(` ${name}`));
      expect(line, name).toBeDefined();
      const address = BigInt(`0x${line!.split(' ')[0]}`);
      expect(findSymbol(elf!.symbols, address)?.name).toBe(name);
      expect(findSymbol(elf!.symbols, address + 1n)?.name).toBe(name);
    }
    expect(readElfSymbols('/etc/hostname')).toBeUndefined();
  });

  it('names a native frame of this process through /proc/PID/maps', () => {
    const elf = readElfSymbols(process.execPath)!;
    const uvRun = elf.symbols.find((s) => s.name === 'uv_run')!;
    // Where uv_run is mapped in this process: the executable's mapping whose file range holds its file offset.
    const load = elf.loads.find((l) => uvRun.address >= l.vaddr && uvRun.address < l.vaddr + l.filesz)!;
    const fileOffset = uvRun.address - load.vaddr + load.offset;
    const maps = execFileSync('cat', [`/proc/${process.pid}/maps`], { encoding: 'utf8' }).split('\n');
    const line = maps.find((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp ([0-9a-f]+) \S+ \d+\s+(\S+)$/.exec(l);
      if (!m || !process.execPath.endsWith(m[4]!.split('/').pop()!)) return false;
      const off = BigInt(`0x${m[3]}`);
      return fileOffset >= off && fileOffset < off + BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`);
    });
    expect(line).toBeDefined();
    const [range, , off] = line!.split(' ');
    const start = BigInt(`0x${range!.split('-')[0]}`);
    const runtime = start + fileOffset - BigInt(`0x${off}`);
    expect(new Symbolizer(process.pid).user(runtime + 4n).name).toBe('uv_run');
  });
});

describe('the perf map', () => {
  it('is parsed into sorted entries, the later of two at one address winning', () => {
    const pid = 0x3ffffff0;
    const path = `/tmp/perf-${pid}.map`;
    writeFileSync(
      path,
      '2000 10 JS:*later file:///a.js:2:1\n1000 100 JS:*first file:///a.js:1:1\n2000 10 JS:*again file:///a.js:3:1\nnot a line\n',
    );
    try {
      const map = readPerfMap(pid)!;
      expect(map.map((e) => e.name)).toEqual([
        'JS:*first file:///a.js:1:1',
        'JS:*later file:///a.js:2:1',
        'JS:*again file:///a.js:3:1',
      ]);
      expect(findSymbol(map, 0x1050n)?.name).toBe('JS:*first file:///a.js:1:1');
      expect(findSymbol(map, 0x2005n)?.name).toBe('JS:*again file:///a.js:3:1');
      expect(findSymbol(map, 0x1100n)).toBeUndefined();
    } finally {
      rmSync(path);
    }
    expect(readPerfMap(pid)).toBeUndefined();
  });
});

describe('label texts', () => {
  it('reads strings, integers and bytes', () => {
    const s = new Uint8Array(16);
    s.set(new TextEncoder().encode('/users/:id'));
    expect(labelText(s)).toBe('/users/:id');
    expect(labelText(new Uint8Array([42, 0, 0, 0, 0, 0, 0, 1]))).toBe(String(42n + (1n << 56n)));
    expect(labelText(new Uint8Array(8))).toBe(NO_VALUE);
    expect(labelText(new Uint8Array([1, 2, 3]))).toBe('0x010203');
  });
});

describe('options', () => {
  it('refuses bad key names, too many labels, bad pids and frequencies before loading', () => {
    expect(() => loadProfiler({ labels: [''] })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_KEY_NAME' }),
    );
    expect(() => loadProfiler({ labels: ['x'.repeat(62)] })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_KEY_NAME' }),
    );
    expect(() => loadProfiler({ labels: ['a', 'b', 'c', 'd', 'e'] })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_TOO_MANY_LABELS' }),
    );
    expect(() => loadProfiler({ labels: ['a', 'a'] })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_TOO_MANY_LABELS' }),
    );
    expect(() => loadProfiler({ labels: ['a'], pids: [0] })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_TARGETS' }),
    );
    expect(() => loadProfiler({ labels: ['a'], requestKey: 'a\0b' })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_KEY_NAME' }),
    );
    expect(() => loadProfiler({ labels: ['a'], sampleHz: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TLD_PROFILE_BAD_FREQUENCY' }),
    );
  });

  it('encodes the settings section: names at their stride, sizes, flags', () => {
    const bytes = encodeSettings(
      [
        { name: 'route', size: 32 },
        { name: 'tenant', size: 16 },
      ],
      'req_id',
      false,
      true,
    );
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('route\0')).toBe(true);
    expect(text.slice(64, 71)).toBe('tenant\0');
    expect(text.slice(4 * 64, 4 * 64 + 7)).toBe('req_id\0');
  });
});

describe('the SVG', () => {
  it('escapes markup and control characters in values and frame names', () => {
    const svg = toSvg({
      labelNames: ['route'],
      sampleHz: 99,
      periodNs: 10_101_010,
      startNs: 0,
      durationNs: 1e9,
      samples: [
        {
          tgid: 1,
          labels: { route: '/a\u009b2J<b>' },
          frames: [{ name: 'f&\x1b]0;x\x07', module: '', address: 1n }],
          count: 3,
        },
      ],
      withoutPerfMap: [],
    });
    const controls = [...svg].filter(
      (c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)),
    );
    expect(controls).toEqual([]);
    expect(svg).toContain('route = /a\\x9b2J&lt;b&gt;');
    expect(svg).toContain('f&amp;\\x1b]0;x\\x07');
  });
});
