// Both map layouts from the CLI: `tld map create --value-size 16|24`, and `map show` / `status` say which one a
// pin holds. A BPF program built on each upstream header revision's declaration (test/fixtures/upstream-decl.bpf.c,
// pinned by name) reuses the pin of its own layout and sees the threads the application registered there; libbpf
// refuses the other layout's pin.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadObject, mapInfo, names, testRun } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { bpfSupport, compileBpf, uniquePinPath } from '@tld/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json, run } from './helpers.js';

const bpf = bpfSupport();
const source = fileURLToPath(new URL('./fixtures/upstream-decl.bpf.c', import.meta.url));

const pins: string[] = [];
afterEach(() => {
  for (const pin of pins.splice(0)) if (existsSync(pin)) run(['map', 'rm', '--pin', pin, '--force']);
});

function freshPin(): string {
  const pin = uniquePinPath('layout');
  pins.push(pin);
  return pin;
}

describe('--value-size', () => {
  it('takes 16 or 24 only (usage error, nothing made)', () => {
    const pin = freshPin();
    for (const bad of ['20', '0', 'big']) {
      const result = run(['map', 'create', '--pin', pin, '--value-size', bad]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('give 16');
    }
    expect(existsSync(pin)).toBe(false);
  });
});

describe.skipIf(!bpf.supported)('both map layouts', () => {
  let work: string;
  const objects: Record<16 | 24, string> = { 16: '', 24: '' };
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tld-layouts-'));
    const multiarch = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
    for (const size of [16, 24] as const) {
      objects[size] = join(work, `upstream-${size}.bpf.o`);
      const revision = size === 24 ? ['-DREVISION_START_IN_VALUE'] : [];
      compileBpf(source, objects[size], [`/usr/include/${multiarch}`], revision);
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    [16, 'selftests-6.18', '16-byte value'],
    [24, 'start-in-value', '24-byte value'],
  ] as const)('map create --value-size %i: map show and status name the layout %s', (size, revision, text) => {
    const pin = freshPin();
    const created = json(run(['map', 'create', '--pin', pin, '--value-size', String(size), '--json']));
    expect(created).toMatchObject({ ok: true, created: true, valueSize: size, layout: revision });
    expect(json(run(['map', 'show', '--pin', pin, '--json']))).toMatchObject({
      ok: true,
      valueSize: size,
      layout: revision,
    });
    expect(run(['map', 'show', '--pin', pin]).stdout).toMatch(new RegExp(`layout +${text}`));
    const status = json(run(['status', '--pin', pin, '--json']));
    expect(status['checks']).toContainEqual(expect.objectContaining({ name: 'pin', layout: revision }));
  });

  it('the default is 16 bytes; a kept pin of the other size is refused when --value-size asks for one', () => {
    const pin = freshPin();
    expect(json(run(['map', 'create', '--pin', pin, '--json']))).toMatchObject({ valueSize: 16 });
    expect(json(run(['map', 'create', '--pin', pin, '--json']))).toMatchObject({
      ok: true,
      created: false,
      valueSize: 16,
    });
    const refused = run(['map', 'create', '--pin', pin, '--value-size', '24', '--json']);
    expect(refused.status).toBe(1);
    expect(json(refused)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_VALUE_SIZE' } });
    expect(json(run(['map', 'show', '--pin', pin, '--json']))).toMatchObject({ valueSize: 16 });
  });

  it('a program built on each revision reuses the pin of its layout and reads what this thread registered', () => {
    const pinOf = { 16: freshPin(), 24: freshPin() };
    for (const size of [16, 24] as const) {
      expect(run(['map', 'create', '--pin', pinOf[size], '--value-size', String(size)]).status).toBe(0);
    }
    for (const size of [16, 24] as const) {
      const pin = pinOf[size];
      const tld = TaskLocalData.open({ pinPath: pin });
      const obj = loadObject(objects[size], { [names.dataMap]: { pinPath: pin } });
      try {
        expect(obj.createdPins).toEqual([]);
        expect(mapInfo(obj.mapFd(names.dataMap)).id).toBe(tld.mapId);
        // 1 + the start of data[]: the page's own start for 16 bytes, the value's copy of it for 24.
        expect(testRun(obj.progFd('registration'), new Uint8Array(8))).toBe(1 + 8);
      } finally {
        obj.close();
        tld.close();
      }
      const other = pinOf[size === 16 ? 24 : 16];
      expect(() => loadObject(objects[size], { [names.dataMap]: { pinPath: other } })).toThrow(
        /value_size|reuse|incompatible|mismatch/i,
      );
    }
  });
});
