// open({ ifUnavailable: 'noop' }): on a host where task-local data cannot work, a service still gets a
// TaskLocalData whose keys behave exactly as usual — same validation, same slots and offsets — on private memory.
import { TypedArrayMemory } from '@tld/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError, TaskLocalData, TldError } from '../src/index.js';
import { type PinnedMaps, codeOf, countMapFds, initPage, loadFixtureMaps, loadNative } from './fixture.js';

const native = loadNative();
const absent = `/sys/fs/bpf/tld_userspace_absent_${process.pid}`;

describe("TaskLocalData.open({ ifUnavailable: 'noop' })", () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('without the option, the typed error is thrown as before', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: absent }))).toBe('ERR_TLD_NO_MAP');
    expect(codeOf(() => TaskLocalData.open({ pinPath: absent, ifUnavailable: 'throw' }))).toBe('ERR_TLD_NO_MAP');
  });

  it('no map: an unavailable handle carrying the error it would have thrown, warning once', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const fds = countMapFds();
    const registrations = native.registrationCount();
    try {
      const tld = TaskLocalData.open({ pinPath: absent, ifUnavailable: 'noop' });
      TaskLocalData.open({ pinPath: absent, ifUnavailable: 'noop' }).close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(tld.available).toBe(false);
      expect(tld.unavailableReason).toBeInstanceOf(TldError);
      expect(tld.unavailableReason?.code).toBe('ERR_TLD_NO_MAP');
      expect(tld.unavailableReason?.message).toContain(absent);
      expect(tld.mapId).toBe(0);
      expect(tld.valueSize).toBe(0);
      tld.close();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => (w as { code?: string }).code === 'TLD_UNAVAILABLE')).toHaveLength(1);
    expect(countMapFds()).toBe(fds);
    expect(native.registrationCount()).toBe(registrations);
  });

  it('keys store and read on private memory, with the usual validation and offsets, and touch no real page', () => {
    const realMeta = new TypedArrayMemory(native.metaPage(initPage.meta));
    const before = realMeta.readBytes(0, native.pageSize());
    const tld = TaskLocalData.open({ pinPath: absent, ifUnavailable: 'noop' });
    const reqId = tld.u64('noop_req');
    const route = tld.string('noop_route', 16);
    const blob = tld.bytes('noop_blob', 3);
    reqId.set(7n);
    route.set('/health');
    blob.set(new Uint8Array([1, 2]));
    expect(reqId.get()).toBe(7n);
    expect(route.get()).toBe('/health');
    expect([...blob.get()]).toEqual([1, 2, 0]);
    expect(tld.u64('noop_req')).toBe(reqId);
    const keys = tld.keys().filter((k) => k.name.startsWith('noop_'));
    expect(keys).toEqual([
      { name: 'noop_req', size: 8, offset: expect.any(Number) as number },
      { name: 'noop_route', size: 16, offset: keys[0]!.offset + 8 },
      { name: 'noop_blob', size: 3, offset: keys[0]!.offset + 24 },
    ]);
    expect(codeOf(() => reqId.set(-1n))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => reqId.set(1 as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => route.set('x'.repeat(16)))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => tld.u32('noop_req'))).toBe('ERR_TLD_SIZE_MISMATCH');
    expect(codeOf(() => tld.u64(''))).toBe('ERR_TLD_NAME_EMPTY');
    expect(codeOf(() => tld.bytes('noop_huge', native.pageSize()))).toBe('ERR_TLD_SIZE_INVALID');
    expect(reqId.get()).toBe(7n);
    expect(realMeta.readBytes(0, native.pageSize())).toEqual(before);
    tld.close();
    expect(codeOf(() => reqId.get())).toBe('ERR_TLD_CLOSED');
  });

  it('a map without uptr support: NotSupportedError as the reason, nothing registered', () => {
    const registrations = native.registrationCount();
    const tld = TaskLocalData.open({ pinPath: maps.pin('plain_map'), ifUnavailable: 'noop' });
    expect(tld.available).toBe(false);
    expect(tld.unavailableReason).toBeInstanceOf(NotSupportedError);
    expect(native.registrationCount()).toBe(registrations);
    tld.close();
  });

  it('where task-local data works, the option changes nothing', () => {
    const tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), ifUnavailable: 'noop' });
    expect(tld.available).toBe(true);
    expect(tld.unavailableReason).toBeUndefined();
    expect(tld.valueSize).toBe(16);
    tld.close();
  });

  it("argument errors still throw: they are the caller's bug, not the host's", () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: 42 as never, ifUnavailable: 'noop' }))).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(codeOf(() => TaskLocalData.open({ pinPath: absent, ifUnavailable: 'maybe' as never }))).toBe(
      'ERR_INVALID_ARG_VALUE',
    );
    expect(codeOf(() => TaskLocalData.open({ pinPath: absent, ifUnavailable: Object.create(null) as never }))).toBe(
      'ERR_INVALID_ARG_VALUE',
    );
  });
});
