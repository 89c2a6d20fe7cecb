// Keys over a real task-storage map with uptrs: values land at the protocol's offsets in this thread's page,
// validation throws the documented errors and changes nothing, close() makes everything throw ERR_TLD_CLOSED
// while the thread's registration and page stay until the thread exits.
import { DATA_START, META_CNT_OFFSET, TypedArrayMemory, decodePages, layoutFor, readMetaHeader } from '@tld/protocol';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '../src/index.js';
import { type PinnedMaps, codeOf, countMapFds, loadFixtureMaps, initPage, loadNative, packageDir } from './fixture.js';

const native = loadNative();

/** The bytes of this thread's value of `name`, read straight from the page (as BPF would). */
function pageBytes(name: string): Uint8Array | undefined {
  const rows = decodePages(
    new TypedArrayMemory(native.metaPage(initPage.meta)),
    new Uint8Array(native.threadDataPage(initPage.data)),
  );
  return rows.find((row) => row.name === name)?.bytes;
}

/** The error `fn` throws (fails the test when it does not throw). */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('TaskLocalData keys', () => {
  let maps: PinnedMaps;
  let tld: TaskLocalData;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());
  afterEach(() => tld?.close());

  it('registers this thread with its pages: the kernel hides the uptrs from lookups', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    expect(tld.valueSize).toBe(16);
    expect(native.registrationCount()).toBe(1);
    const page = native.pageSize();
    expect(native.metaPageAddress() % BigInt(page)).toBe(0n);
    expect(native.threadDataPageAddress() % BigInt(page)).toBe(0n);
    expect(readMetaHeader(new TypedArrayMemory(native.metaPage(initPage.meta))).size).toBe(page - DATA_START);
  });

  it('stores each type at its protocol offset, little-endian, and reads it back', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const u64 = tld.u64('k_u64');
    const u32 = tld.u32('k_u32');
    const i64 = tld.i64('k_i64');
    const f64 = tld.f64('k_f64');
    const str = tld.string('k_str', 12);
    const bytes = tld.bytes('k_bytes', 5);
    u64.set(0x0102030405060708n);
    u32.set(0xdeadbeef);
    i64.set(-2n);
    f64.set(1.5);
    str.set('héllo');
    bytes.set(new Uint8Array([1, 2, 3]));
    expect(u64.get()).toBe(0x0102030405060708n);
    expect(u32.get()).toBe(0xdeadbeef);
    expect(i64.get()).toBe(-2n);
    expect(f64.get()).toBe(1.5);
    expect(str.get()).toBe('héllo');
    expect([...bytes.get()]).toEqual([1, 2, 3, 0, 0]);
    expect([...(pageBytes('k_u64') ?? [])]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect([...(pageBytes('k_u32') ?? [])]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect([...(pageBytes('k_i64') ?? [])]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(new DataView((pageBytes('k_f64') ?? new Uint8Array(8)).buffer).getFloat64(0, true)).toBe(1.5);
    expect([...(pageBytes('k_str') ?? [])]).toEqual([...new TextEncoder().encode('héllo'), 0, 0, 0, 0, 0, 0]);
    bytes.view[4] = 9; // the live view writes the page
    expect(pageBytes('k_bytes')?.[4]).toBe(9);
    // The six keys follow whatever this process created before, each 8-aligned after the one before.
    const keys = tld.keys().slice(-6);
    expect(keys.map((k) => k.name)).toEqual(['k_u64', 'k_u32', 'k_i64', 'k_f64', 'k_str', 'k_bytes']);
    const base = keys[0]!.offset;
    expect(keys.map((k) => k.offset - base)).toEqual([0, 8, 16, 24, 32, 48]);
    for (const key of keys) expect(key.offset % 8).toBe(0);
  });

  it('get-or-create: the same name and size is the same key', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const a = tld.u64('same');
    a.set(5n);
    expect(tld.u64('same')).toBe(a);
    expect(tld.i64('same').get()).toBe(5n); // same slot, another view of it
    expect(codeOf(() => tld.u32('same'))).toBe('ERR_TLD_SIZE_MISMATCH');
  });

  it('rejects bad names and sizes with protocol codes, changing nothing', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const meta = new TypedArrayMemory(native.metaPage(initPage.meta));
    const before = meta.readBytes(0, native.pageSize());
    expect(codeOf(() => tld.u64(''))).toBe('ERR_TLD_NAME_EMPTY');
    expect(codeOf(() => tld.u64('x'.repeat(62)))).toBe('ERR_TLD_NAME_TOO_LONG');
    expect(codeOf(() => tld.u64('a\0b'))).toBe('ERR_TLD_NAME_HAS_NUL');
    expect(codeOf(() => tld.bytes('b0', 0))).toBe('ERR_TLD_SIZE_INVALID');
    expect(codeOf(() => tld.bytes('b1', 1.5))).toBe('ERR_TLD_SIZE_INVALID');
    expect(codeOf(() => tld.string('s', native.pageSize()))).toBe('ERR_TLD_SIZE_INVALID');
    expect(meta.readBytes(0, native.pageSize())).toEqual(before);
  });

  it('validates values cheaply and leaves the old value on error', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const u64 = tld.u64('v_u64');
    const u32 = tld.u32('v_u32');
    const i64 = tld.i64('v_i64');
    const f64 = tld.f64('v_f64');
    u64.set(1n);
    u32.set(1);
    i64.set(1n);
    expect(() => u64.set(-1n)).toThrow(RangeError);
    expect(() => u64.set(1n << 64n)).toThrow(RangeError);
    expect(() => u64.set(1 as never)).toThrow(TypeError);
    u64.set((1n << 64n) - 1n);
    expect(u64.get()).toBe((1n << 64n) - 1n);
    expect(() => u32.set(-1)).toThrow(RangeError);
    expect(() => u32.set(2 ** 32)).toThrow(RangeError);
    expect(() => u32.set(0.5)).toThrow(RangeError);
    expect(() => u32.set(Number.NaN)).toThrow(RangeError);
    expect(() => u32.set(1n as never)).toThrow(TypeError);
    expect(u32.get()).toBe(1);
    expect(() => i64.set(1n << 63n)).toThrow(RangeError);
    expect(() => i64.set(-(1n << 63n) - 1n)).toThrow(RangeError);
    i64.set(-(1n << 63n));
    expect(i64.get()).toBe(-(1n << 63n));
    expect(() => f64.set('1' as never)).toThrow(TypeError);
    f64.set(Number.NaN);
    expect(f64.get()).toBeNaN();
  });

  it('strings: size − 1 bytes at most, RangeError unless truncate, cut on a UTF-8 boundary, rest cleared', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const route = tld.string('route', 8);
    expect(route.maxBytes).toBe(7);
    route.set('/abcdef');
    expect(route.get()).toBe('/abcdef');
    expect(() => route.set('/abcdefg')).toThrow(RangeError);
    expect(route.get()).toBe('/abcdef'); // unchanged
    route.set('/ü/ü/ü/', { truncate: true }); // 'ü' is 2 bytes: '/ü/ü/' takes all 7, the next 'ü' does not fit
    expect(route.get()).toBe('/ü/ü/');
    expect(pageBytes('route')?.[7]).toBe(0);
    route.set('abüüü', { truncate: true }); // 'abüü' is 6 bytes; one byte of the next 'ü' would fit but is not written
    expect([...(pageBytes('route') ?? [])]).toEqual([0x61, 0x62, 0xc3, 0xbc, 0xc3, 0xbc, 0, 0]);
    route.set('/');
    expect([...(pageBytes('route') ?? [])]).toEqual([0x2f, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => route.set('a\0b')).toThrow(TypeError);
    const cut = tld.string('cut', 4, { truncate: true });
    cut.set('abcdef');
    expect(cut.get()).toBe('abc');
    expect(() => tld.string('bad', 4, { truncate: 'yes' as never })).toThrow(TypeError);
  });

  it('strings: ASCII values (fast path) and others (encoder) store the same bytes and refuse the same values', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const s = tld.string('paths', 8);
    s.set('\x7f/abcde'); // DEL, the last ASCII character; exactly maxBytes
    expect([...(pageBytes('paths') ?? [])]).toEqual([0x7f, 0x2f, 0x61, 0x62, 0x63, 0x64, 0x65, 0]);
    s.set('\x80'); // the first non-ASCII character: two UTF-8 bytes, the rest cleared
    expect([...(pageBytes('paths') ?? [])]).toEqual([0xc2, 0x80, 0, 0, 0, 0, 0, 0]);
    s.set('\ud800'); // a lone surrogate becomes U+FFFD, as encodeInto writes it
    expect([...(pageBytes('paths') ?? [])]).toEqual([0xef, 0xbf, 0xbd, 0, 0, 0, 0, 0]);
    s.set('ok');
    expect(() => s.set('ab\0')).toThrow(TypeError); // NUL in a short ASCII value
    expect(() => s.set('\0')).toThrow(TypeError);
    expect(() => s.set('abcdefgh')).toThrow(RangeError); // ASCII, one byte too long
    expect([...(pageBytes('paths') ?? [])]).toEqual([0x6f, 0x6b, 0, 0, 0, 0, 0, 0]); // unchanged
    const odd = tld.string('odd', 6); // 5 bytes of value; the key's size is not a multiple of 4
    odd.set('abcde');
    expect(() => odd.set('abcdef')).toThrow(RangeError);
    expect([...(pageBytes('odd') ?? [])]).toEqual([0x61, 0x62, 0x63, 0x64, 0x65, 0]);
    const long = tld.string('long', 40); // 16 characters go the JavaScript way, 17 through the encoder
    long.set('0123456789abcdef');
    expect(long.get()).toBe('0123456789abcdef');
    long.set('0123456789abcdefg');
    expect(long.get()).toBe('0123456789abcdefg');
    long.set('é');
    expect([...(pageBytes('long') ?? [])]).toEqual([0xc3, 0xa9, ...new Array<number>(38).fill(0)]);
    expect(() => long.set('0123456789abcdefg\0')).toThrow(TypeError);
    let called = false;
    const sneaky = { valueOf: () => ((called = true), 1n) };
    expect(() => tld?.u64('p_u64').set(sneaky as never)).toThrow(TypeError); // never converted
    expect(() => tld?.u32('p_u32').set(sneaky as never)).toThrow(TypeError);
    expect(called).toBe(false);
  });

  it('bytes: set copies at most size bytes', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const blob = tld.bytes('blob', 4);
    blob.set(new Uint8Array([1, 2, 3, 4]));
    expect(() => blob.set(new Uint8Array(5))).toThrow(RangeError);
    expect(() => blob.set([1, 2] as never)).toThrow(TypeError);
    expect([...blob.view]).toEqual([1, 2, 3, 4]);
  });

  it('bytes: a detached buffer, a fake Uint8Array and a subclass lying about its length get codes, the same in set() and run()', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const blob = tld.bytes('blob8', 8);
    blob.set(new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]));
    const before = blob.get();
    const detached = new Uint8Array(4);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const fake = Object.create(Uint8Array.prototype) as Uint8Array;
    for (const [value, code] of [
      [detached, 'ERR_INVALID_ARG_VALUE'],
      [fake, 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      expect(codeOf(() => blob.set(value))).toBe(code);
      expect(codeOf(() => tld.run({ blob8: value }, () => undefined))).toBe(code);
      expect(blob.get()).toEqual(before);
    }
    // A subclass whose length says 8 while it holds 2 bytes: set() and run() store exactly its 2 bytes.
    class Liar extends Uint8Array {
      override get length(): number {
        return 8;
      }
    }
    const liar = new Liar([1, 2]);
    blob.set(liar);
    expect([...blob.get()]).toEqual([1, 2, 0, 0, 0, 0, 0, 0]);
    blob.set(before);
    tld.run({ blob8: liar }, () => expect([...blob.get()]).toEqual([1, 2, 0, 0, 0, 0, 0, 0]));
    expect(blob.get()).toEqual(before);
    // And one that claims 2 while it holds 9: too long for the key, refused with its code.
    class Shy extends Uint8Array {
      override get length(): number {
        return 2;
      }
    }
    expect(codeOf(() => blob.set(new Shy(9)))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => tld.run({ blob8: new Shy(9) }, () => undefined))).toBe('ERR_OUT_OF_RANGE');
    expect(blob.get()).toEqual(before);
  });

  it('a corrupted own metadata page (cnt past the slots) is refused at once with ERR_TLD_BAD_LAYOUT', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const meta = new DataView(native.metaPage(initPage.meta));
    const cnt = meta.getUint16(META_CNT_OFFSET, true);
    const maxKeys = layoutFor(native.pageSize()).maxKeys;
    meta.setUint16(META_CNT_OFFSET, maxKeys + 1, true); // as a native library writing out of bounds would
    try {
      const error = thrownBy(() => tld.u64('after_corruption'));
      expect((error as { code?: string }).code).toBe('ERR_TLD_BAD_LAYOUT');
      expect(error.message).toContain(`cnt is ${maxKeys + 1}`);
      expect(codeOf(() => TaskLocalData.open({ pinPath: maps.pin('tld_data_map') }))).toBe('ERR_TLD_BAD_LAYOUT');
      expect(meta.getUint16(META_CNT_OFFSET, true)).toBe(maxKeys + 1); // refused, not repaired behind anyone's back
    } finally {
      meta.setUint16(META_CNT_OFFSET, cnt, true);
    }
    expect(tld.u64('after_corruption').name).toBe('after_corruption');
  });

  it('close(): every use throws ERR_TLD_CLOSED; the registration and page stay for the thread; open again reuses them', () => {
    const fds = countMapFds();
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const registrations = native.registrationCount();
    const key = tld.u64('c');
    const blob = tld.bytes('c_blob', 8);
    const view = blob.view;
    key.set(3n);
    const page = native.threadDataPageAddress();
    tld.close();
    tld.close(); // idempotent
    expect(tld.closed).toBe(true);
    expect(codeOf(() => key.set(1n))).toBe('ERR_TLD_CLOSED');
    expect(codeOf(() => key.get())).toBe('ERR_TLD_CLOSED');
    expect(codeOf(() => blob.view)).toBe('ERR_TLD_CLOSED');
    expect(codeOf(() => tld.u64('d'))).toBe('ERR_TLD_CLOSED');
    expect(codeOf(() => tld.keys())).toBe('ERR_TLD_CLOSED');
    // Native code on this thread may hold pointers into the page: it stays mapped and registered until the
    // thread exits (the environment's cleanup hook then deletes the element first).
    expect(native.registrationCount()).toBe(registrations);
    expect(native.threadDataPageAddress()).toBe(page);
    expect(view.length).toBe(8);
    expect(pageBytes('c')).toEqual(new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]));
    expect(countMapFds()).toBeLessThanOrEqual(fds + 1); // at most the registration's dup, kept for the thread
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    expect(native.registrationCount()).toBe(registrations);
    expect(tld.u64('c').get()).toBe(3n); // the same page
  });

  it('two opens on one map share the registration', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const registrations = native.registrationCount();
    const other = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    expect(native.registrationCount()).toBe(registrations);
    other.u64('shared').set(9n);
    other.close();
    expect(tld.u64('shared').get()).toBe(9n);
  });

  it('a second instance of the module in this thread shares the registration the addon holds', async () => {
    // Two instances of the JavaScript module (here: the sources and the build) over one addon share the thread's
    // pages, and the one registration per map the addon keeps for the thread.
    const copy = (await import(
      pathToFileURL(join(packageDir, 'dist/index.js')).href
    )) as typeof import('../src/index.js');
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const registrations = native.registrationCount();
    const other = copy.TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    expect(native.registrationCount()).toBe(registrations);
    other.u64('from_copy').set(12n);
    tld.close();
    expect(other.u64('from_copy').get()).toBe(12n);
    other.close();
  });

  it('one page in several maps (16- and 24-byte values), registered in each', () => {
    tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const before = native.registrationCount();
    const v2 = TaskLocalData.open({ pinPath: maps.pin('tld_data_map_v2') });
    expect(v2.valueSize).toBe(24);
    expect(native.registrationCount()).toBe(before + 1); // only this test opens the 24-byte map
    tld.u64('both').set(11n);
    expect(v2.u64('both').get()).toBe(11n);
    tld.close();
    expect(v2.u64('both').get()).toBe(11n);
    v2.close();
  });

  it("{ mapFd } uses the caller's fd and never closes it", () => {
    const fd = native.objGet(maps.pin('tld_data_map'));
    try {
      tld = TaskLocalData.open({ mapFd: fd });
      tld.u32('fd_key').set(7);
      tld.close();
      expect(native.objGetInfoByFd(fd).type).toBe(native.constants.BPF_MAP_TYPE_TASK_STORAGE);
    } finally {
      native.close(fd);
    }
  });
});
