// mapUpdateElem: the value lands in the map (read back through bpftool, a reader that shares no code with us),
// the flags mean what the kernel says, and failures carry the kernel's errno. Behaviour only: its speed is
// measured by tools/bench, never here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BpfSyscallError } from '@tld/protocol';
import { MapUpdateFlags, mapUpdateElem } from '@tld/bpf-programs';
import { bpfSupport, loadFixtures, type Fixtures } from '@tld/testkit';

const support = bpfSupport();

function keyOf(n: number): Uint8Array {
  return new Uint8Array(new Int32Array([n]).buffer);
}
function valueOf(a: bigint, b: bigint): Uint8Array {
  return new Uint8Array(new BigUint64Array([a, b]).buffer);
}
function mapId(fd: number): string {
  const id = /^map_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  if (id === undefined) throw new Error(`fd ${fd} is not a BPF map`);
  return id;
}
/** The value bytes bpftool finds under `key`, or undefined when the key is absent (bpftool -j prints null). */
function lookup(fd: number, key: Uint8Array): number[] | undefined {
  const args = ['-j', 'map', 'lookup', 'id', mapId(fd), 'key', ...[...key].map(String)];
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  const out = r.stdout.trim();
  if (out === 'null') return undefined;
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')} failed (${r.status}): ${out} ${r.stderr}`);
  return (JSON.parse(out) as { value: string[] }).value.map((b) => Number.parseInt(b, 16));
}
function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BpfSyscallError);
    return (err as BpfSyscallError).errno;
  }
  throw new Error('expected a throw');
}

describe.skipIf(!support.supported)('mapUpdateElem', () => {
  // tld_wrong_map_type: a hash map, key int, value 16 bytes, max_entries 4. Each test gets a fresh, empty one.
  let fixtures: Fixtures;
  beforeEach(() => {
    fixtures = loadFixtures();
  });
  afterEach(() => fixtures?.close());

  it('stores the value under the key, and BPF_ANY overwrites it', () => {
    const fd = fixtures.wrongMapTypeFd;
    const key = keyOf(4242);
    expect(lookup(fd, key)).toBeUndefined();
    mapUpdateElem(fd, key, valueOf(0x1122334455667788n, 7n), MapUpdateFlags.ANY);
    expect(lookup(fd, key)).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 7, 0, 0, 0, 0, 0, 0, 0]);
    mapUpdateElem(fd, key, valueOf(1n, 2n));
    expect(lookup(fd, key)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('BPF_NOEXIST on a present key and BPF_EXIST on an absent one fail with EEXIST/ENOENT and change nothing', () => {
    const fd = fixtures.wrongMapTypeFd;
    const present = keyOf(7);
    mapUpdateElem(fd, present, valueOf(3n, 4n));
    expect(errnoOf(() => mapUpdateElem(fd, present, valueOf(9n, 9n), MapUpdateFlags.NOEXIST))).toBe(17);
    expect(lookup(fd, present)).toEqual([3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
    const absent = keyOf(8);
    expect(errnoOf(() => mapUpdateElem(fd, absent, valueOf(9n, 9n), MapUpdateFlags.EXIST))).toBe(2);
    expect(lookup(fd, absent)).toBeUndefined();
  });

  it('a full hash map refuses a new key with E2BIG', () => {
    const fd = fixtures.wrongMapTypeFd;
    for (const k of [100, 101, 102, 103]) mapUpdateElem(fd, keyOf(k), valueOf(BigInt(k), 0n), MapUpdateFlags.NOEXIST);
    expect(errnoOf(() => mapUpdateElem(fd, keyOf(999), valueOf(1n, 1n)))).toBe(7);
    expect(lookup(fd, keyOf(999))).toBeUndefined();
  });

  it('a number that is no open fd fails with EBADF; bad argument types throw TypeError', () => {
    expect(errnoOf(() => mapUpdateElem(1_000_000, keyOf(1), valueOf(1n, 1n)))).toBe(9);
    const fd = fixtures.wrongMapTypeFd;
    expect(() => mapUpdateElem(-1, keyOf(1), valueOf(1n, 1n))).toThrow(TypeError);
    expect(() => mapUpdateElem(fd, [1, 0, 0, 0] as unknown as Uint8Array, valueOf(1n, 1n))).toThrow(TypeError);
    expect(() => mapUpdateElem(fd, keyOf(1), new BigUint64Array(2) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => mapUpdateElem(fd, keyOf(1), valueOf(1n, 1n), 0.5)).toThrow(TypeError);
  });
});
