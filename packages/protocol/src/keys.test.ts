import { describe, expect, it } from 'vitest';
import { TypedArrayMemory } from './atomic-memory.js';
import { ProtocolErrorCode, TldError } from './errors.js';
import { type KeyOptions, checkValueSize, createKey, encodeKeyName, findKey, listKeys } from './keys.js';
import { SLOT_NAME_OFFSET, layoutFor, slotOffset, slotValueSizeOffset } from './layout.js';
import { initMetaPage, readMetaHeader } from './pages.js';

function freshPage(pageSize = 4096): { mem: TypedArrayMemory; page: Uint8Array } {
  const mem = new TypedArrayMemory(new SharedArrayBuffer(pageSize));
  initMetaPage(mem, layoutFor(pageSize));
  return { mem, page: mem.bytes };
}

/** Runs createKey, expects TldError with `code`, and checks the page is byte for byte what it was before. */
function expectCreateFails(
  mem: TypedArrayMemory,
  name: string,
  size: number,
  code: ProtocolErrorCode,
  options?: KeyOptions,
): TldError {
  const before = mem.bytes.slice();
  let caught: unknown;
  try {
    createKey(mem, name, size, options);
  } catch (err) {
    caught = err;
  }
  expect(caught, `createKey(${JSON.stringify(name)}, ${size}) should throw ${code}`).toBeInstanceOf(TldError);
  const err = caught as TldError;
  expect(err.code).toBe(code);
  expect(err.name).toBe('TldError');
  expect(Buffer.from(mem.bytes).equals(Buffer.from(before)), 'page changed by a failed createKey').toBe(true);
  return err;
}

function u16(page: Uint8Array, offset: number): number {
  return new DataView(page.buffer, page.byteOffset, page.byteLength).getUint16(offset, true);
}

describe('createKey success', () => {
  it('claims slot 0 at offset 0 and writes name, size and cnt at the PROTOCOL.md §2 offsets', () => {
    const { mem, page } = freshPage();
    expect(createKey(mem, 'pid', 4)).toEqual({ name: 'pid', index: 0, offset: 0, size: 4, created: true });
    expect(u16(page, 0)).toBe(1);
    expect(u16(page, 2)).toBe(4088);
    expect(Array.from(page.subarray(4, 4 + 62))).toEqual([0x70, 0x69, 0x64, ...new Array<number>(59).fill(0)]);
    expect(u16(page, 4 + 62)).toBe(4);

    expect(createKey(mem, 'comm', 16)).toEqual({ name: 'comm', index: 1, offset: 8, size: 16, created: true });
    expect(u16(page, 0)).toBe(2);
    expect(Array.from(page.subarray(68, 72))).toEqual([0x63, 0x6f, 0x6d, 0x6d]);
    expect(page[72]).toBe(0);
    expect(u16(page, 68 + 62)).toBe(16);

    expect(createKey(mem, 'z', 1).offset).toBe(24);
    expect(createKey(mem, 'y', 1).offset).toBe(32);
  });

  it('returns the existing key with created=false for the same name and size, changing nothing', () => {
    const { mem, page } = freshPage();
    createKey(mem, 'a', 8);
    const first = createKey(mem, 'b', 12);
    const before = page.slice();
    const again = createKey(mem, 'b', 12);
    expect(again).toEqual({ ...first, created: false });
    expect(Buffer.from(page).equals(Buffer.from(before))).toBe(true);
  });

  it('tells apart a name and its prefix or extension', () => {
    const { mem } = freshPage();
    createKey(mem, 'abc', 8);
    expect(createKey(mem, 'ab', 8).created).toBe(true);
    expect(createKey(mem, 'abcd', 8).created).toBe(true);
    expect(createKey(mem, 'abc', 8)).toMatchObject({ index: 0, created: false });
    expect(listKeys(mem).map((k) => k.name)).toEqual(['abc', 'ab', 'abcd']);
  });

  it('only touches its page when the page is a window into a larger buffer', () => {
    const sab = new SharedArrayBuffer(3 * 4096);
    const whole = new Uint8Array(sab).fill(0x5a);
    new Uint8Array(sab, 4096, 4096).fill(0);
    const mem = new TypedArrayMemory(sab, 4096, 4096);
    initMetaPage(mem);
    expect(createKey(mem, 'k', 8)).toMatchObject({ index: 0, offset: 0 });
    expect(whole.subarray(0, 4096).every((b) => b === 0x5a)).toBe(true);
    expect(whole.subarray(8192).every((b) => b === 0x5a)).toBe(true);
    expect(u16(whole, 4096)).toBe(1);
  });

  it('accepts the largest value P − 8 on an empty page, for every page size', () => {
    for (const pageSize of [4096, 16384, 65536]) {
      const { mem } = freshPage(pageSize);
      const layout = layoutFor(pageSize);
      expect(createKey(mem, 'all', pageSize - 8, { layout })).toMatchObject({ offset: 0, size: pageSize - 8 });
    }
  });
});

describe('createKey errors (each one leaves the page unchanged)', () => {
  it('NAME_EMPTY', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    expectCreateFails(mem, '', 8, ProtocolErrorCode.NAME_EMPTY);
  });

  it('NAME_TOO_LONG at 62 ASCII bytes; 61 is accepted and stored with its NUL', () => {
    const { mem, page } = freshPage();
    expectCreateFails(mem, 'a'.repeat(62), 8, ProtocolErrorCode.NAME_TOO_LONG);
    expectCreateFails(mem, 'a'.repeat(200), 8, ProtocolErrorCode.NAME_TOO_LONG);
    const name61 = 'n'.repeat(61);
    expect(createKey(mem, name61, 8).created).toBe(true);
    expect(page.subarray(4, 4 + 61).every((b) => b === 0x6e)).toBe(true);
    expect(page[4 + 61]).toBe(0);
    expect(listKeys(mem)[0]!.name).toBe(name61);
  });

  it.each([
    ['2-byte é', 'é'.repeat(30) + 'a', 'é'.repeat(31)],
    ['3-byte €', 'a'.repeat(58) + '€', 'a'.repeat(59) + '€'],
    ['4-byte emoji', 'a'.repeat(57) + '😀', 'a'.repeat(58) + '😀'],
  ])('NAME_TOO_LONG counts UTF-8 bytes, not characters (%s at the 61/62-byte boundary)', (_, fits, tooLong) => {
    // `fits` is 61 UTF-8 bytes and `tooLong` 62, both fewer than 62 UTF-16 code units: a length check on the
    // JavaScript string would let `tooLong` through.
    const { mem } = freshPage();
    expectCreateFails(mem, tooLong, 8, ProtocolErrorCode.NAME_TOO_LONG);
    expect(createKey(mem, fits, 8).created).toBe(true);
    expect(listKeys(mem)[0]!.name).toBe(fits);
    expect(createKey(mem, fits, 8).created).toBe(false);
  });

  it.each(['\0', 'a\0b', 'abc\0', '\0abc'])('NAME_HAS_NUL for %j', (name) => {
    const { mem } = freshPage();
    createKey(mem, 'abc', 8);
    expectCreateFails(mem, name, 8, ProtocolErrorCode.NAME_HAS_NUL);
  });

  it.each([0, -1, -8, 1.5, 7.999, Number.NaN, Number.POSITIVE_INFINITY, 4089, 4096, 65536])(
    'SIZE_INVALID for size %s',
    (size) => {
      const { mem } = freshPage();
      createKey(mem, 'a', 8);
      expectCreateFails(mem, 'b', size, ProtocolErrorCode.SIZE_INVALID);
      expect(() => checkValueSize(size)).toThrow(TldError);
    },
  );

  it('SIZE_INVALID bounds follow the page size', () => {
    const layout = layoutFor(16384);
    const { mem } = freshPage(16384);
    expectCreateFails(mem, 'b', 16377, ProtocolErrorCode.SIZE_INVALID, { layout });
    expect(() => checkValueSize(16376, layout)).not.toThrow();
    expect(() => checkValueSize(16377, layout)).toThrow(TldError);
    // With the default 4096 layout the same size is invalid.
    expect(() => checkValueSize(4096)).toThrow(TldError);
  });

  it('TOO_BIG when the rounded value does not fit in what meta.size leaves', () => {
    const { mem } = freshPage();
    createKey(mem, 'big', 4080);
    expectCreateFails(mem, 'x', 9, ProtocolErrorCode.TOO_BIG); // 4080 + 16 > 4088
    expect(createKey(mem, 'x', 8)).toMatchObject({ offset: 4080, created: true });
    expectCreateFails(mem, 'y', 1, ProtocolErrorCode.TOO_BIG);
  });

  it('TOO_BIG respects a smaller meta.size set by whoever created the page', () => {
    const { mem } = freshPage();
    mem.store16(2, 24);
    createKey(mem, 'a', 8);
    expectCreateFails(mem, 'b', 17, ProtocolErrorCode.TOO_BIG); // 8 + 24 > 24
    expect(createKey(mem, 'b', 16)).toMatchObject({ offset: 8 });
    expectCreateFails(mem, 'c', 1, ProtocolErrorCode.TOO_BIG);
    expect(readMetaHeader(mem)).toEqual({ cnt: 2, size: 24 });
  });

  it('TOO_BIG on a zero-filled page that nobody initialised (meta.size 0)', () => {
    const mem = new TypedArrayMemory(new SharedArrayBuffer(4096));
    expectCreateFails(mem, 'a', 1, ProtocolErrorCode.TOO_BIG);
  });

  it('NO_SPACE after all 63 slots are claimed; existing keys are still found', () => {
    const { mem } = freshPage();
    for (let i = 0; i < 63; i++) expect(createKey(mem, `k${i}`, 1)).toMatchObject({ index: i, offset: 8 * i });
    expect(readMetaHeader(mem).cnt).toBe(63);
    expectCreateFails(mem, 'one-too-many', 1, ProtocolErrorCode.NO_SPACE);
    expect(createKey(mem, 'k62', 1)).toMatchObject({ index: 62, offset: 496, created: false });
  });

  it('SIZE_MISMATCH when the name exists with another size', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    createKey(mem, 'b', 12);
    const err = expectCreateFails(mem, 'b', 16, ProtocolErrorCode.SIZE_MISMATCH);
    expect(err.message).toContain('12');
    // Same rounded size is still a mismatch: the unrounded size is what the protocol stores.
    expectCreateFails(mem, 'b', 9, ProtocolErrorCode.SIZE_MISMATCH);
  });

  it('SLOT_NEVER_PUBLISHED, naming the slot and the wait, when a claimed slot is never published', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    mem.store16(0, 2); // another creator claimed slot 1 and died before publishing
    const err = expectCreateFails(mem, 'b', 8, ProtocolErrorCode.SLOT_NEVER_PUBLISHED, { publishTimeoutMs: 20 });
    // The message names the caller's bound, not the default one: the option reached the wait.
    expect(err.message).toContain('slot 1');
    expect(err.message).toContain('within 20 ms');
    // A key in a slot before the stuck one is still found without waiting.
    expect(createKey(mem, 'a', 8, { publishTimeoutMs: 20 })).toMatchObject({ index: 0, created: false });
  });

  it('waits for a claimed slot that its creator publishes later, instead of failing on the first look', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    // Slot 1 is claimed (cnt 2) and its name written; its size appears only at the 5,000th look at it, so the
    // wait has to keep looking, and consult its deadline, before it can see it.
    mem.writeBytes(slotOffset(1) + SLOT_NAME_OFFSET, new TextEncoder().encode('late'));
    mem.store16(0, 2);
    let looks = 0;
    class PublishingLater extends TypedArrayMemory {
      override load16(offset: number): number {
        if (offset === slotValueSizeOffset(1) && ++looks === 5000) this.store16(offset, 8);
        return super.load16(offset);
      }
    }
    const later = new PublishingLater(mem.bytes.buffer);
    expect(createKey(later, 'b', 8)).toMatchObject({ index: 2, offset: 16, created: true });
    expect(listKeys(mem).map((k) => k.name)).toEqual(['a', 'late', 'b']);
  });

  it('without claimSlot, a creator stopped between claiming and publishing leaves the slot unpublished', () => {
    // A memory without claimSlot makes createKey claim (compare-exchange cnt) and publish (name, then size) in
    // separate steps. Stop this creator right after its claim, as worker.terminate() can stop a JavaScript thread:
    // the slot stays claimed and unpublished, and every later creator reports it instead of waiting forever.
    class StoppedAfterClaim extends TypedArrayMemory {
      override writeBytes(): void {
        throw new Error('stopped after claiming');
      }
    }
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    expect(() => createKey(new StoppedAfterClaim(mem.bytes.buffer), 'b', 8)).toThrow('stopped after claiming');
    expect(readMetaHeader(mem).cnt).toBe(2);
    expect(mem.load16(slotValueSizeOffset(1))).toBe(0);
    const err = expectCreateFails(mem, 'c', 8, ProtocolErrorCode.SLOT_NEVER_PUBLISHED, { publishTimeoutMs: 20 });
    expect(err.message).toContain('slot 1');
  });

  it('BAD_LAYOUT before claiming when a new or existing key would end past dataLimit', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    createKey(mem, 'b', 8);
    // A 20-byte data[] holds 'a' (0..8) and 'b' (8..16) but not a third 8-byte key at 16..24.
    const err = expectCreateFails(mem, 'c', 8, ProtocolErrorCode.BAD_LAYOUT, { dataLimit: 20 });
    expect(err.message).toContain('24');
    expect(createKey(mem, 'c', 4, { dataLimit: 20 })).toMatchObject({ offset: 16, created: true });
    expectCreateFails(mem, 'b', 8, ProtocolErrorCode.BAD_LAYOUT, { dataLimit: 12 });
    expect(createKey(mem, 'b', 8, { dataLimit: 16 })).toMatchObject({ offset: 8, created: false });
  });

  it("claims through the memory's claimSlot when it has one, retrying the same slot when it loses", () => {
    const calls: Array<[number, number, string, number]> = [];
    class ClaimingMemory extends TypedArrayMemory {
      claimSlot(expectedCnt: number, index: number, nameField: Uint8Array, size: number): boolean {
        calls.push([expectedCnt, index, Buffer.from(nameField).toString('latin1').replace(/\0+$/, ''), size]);
        if (calls.length === 1) {
          createKey(plain, 'rival', 4); // another creator takes slot 0 between our load of cnt and our claim
          return false;
        }
        if (this.compareExchange16(0, expectedCnt, expectedCnt + 1) !== expectedCnt) return false;
        this.writeBytes(4 + 64 * index, nameField);
        this.store16(4 + 64 * index + 62, size);
        return true;
      }
    }
    const { mem: plain } = freshPage();
    const claiming = new ClaimingMemory(plain.bytes.buffer);
    expect(createKey(claiming, 'mine', 8)).toMatchObject({ index: 1, offset: 8, created: true });
    expect(calls).toEqual([
      [0, 0, 'mine', 8],
      [1, 1, 'mine', 8],
    ]);
    expect(listKeys(plain).map((k) => k.name)).toEqual(['rival', 'mine']);
  });

  it('checks the name before the size', () => {
    const { mem } = freshPage();
    expectCreateFails(mem, '', 0, ProtocolErrorCode.NAME_EMPTY);
  });

  it.each(['a\uD800', '\uDC00b', 'x\uDBFF\uDBFF😀'])(
    'throws TypeError for a lone surrogate in %j (no UTF-8 form)',
    (name) => {
      const { mem } = freshPage();
      createKey(mem, 'a\uFFFD', 8);
      const before = mem.bytes.slice();
      // TextEncoder would store U+FFFD instead, so 'a\uD800' would silently alias 'a\uFFFD'.
      expect(() => createKey(mem, name, 8)).toThrow(TypeError);
      expect(Buffer.from(mem.bytes).equals(Buffer.from(before))).toBe(true);
      expect(createKey(mem, 'ok😀', 8).created).toBe(true);
    },
  );

  it('throws TypeError for a name that is not a string', () => {
    const { mem } = freshPage();
    expect(() => createKey(mem, 42 as unknown as string, 8)).toThrow(TypeError);
    expect(readMetaHeader(mem).cnt).toBe(0);
  });

  it('uses distinct, stable codes', () => {
    const codes = Object.values(ProtocolErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ERR_TLD_[A-Z_]+$/);
  });
});

describe('encodeKeyName / listKeys / findKey', () => {
  it('encodes names as UTF-8', () => {
    expect(Array.from(encodeKeyName('é'))).toEqual([0xc3, 0xa9]);
  });

  it('findKey returns the published key or undefined and validates the name', () => {
    const { mem } = freshPage();
    createKey(mem, 'a', 8);
    createKey(mem, 'b', 3);
    expect(findKey(mem, 'b')).toEqual({ name: 'b', index: 1, offset: 8, size: 3 });
    expect(findKey(mem, 'c')).toBeUndefined();
    expect(() => findKey(mem, '')).toThrow(TldError);
  });

  it('listKeys clamps a corrupt cnt to MAX_KEYS', () => {
    const { mem } = freshPage();
    for (let i = 0; i < 63; i++) createKey(mem, `k${i}`, 1);
    mem.store16(0, 0xffff);
    // Slot 63 would lie past the end of the page.
    expect(listKeys(mem)).toHaveLength(63);
  });
});
