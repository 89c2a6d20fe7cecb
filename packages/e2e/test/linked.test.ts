// Two compilation units that include tld.bpf.h, linked into one object with `bpftool gen object`, load into the
// kernel and share one tld_data_map: the run-time-name reader and the cached reader see the same registration.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeU64 } from '@tld/protocol';
import {
  CACHED_KEYS,
  loadObject,
  names,
  objectPaths,
  readOnThisThread,
  runCachedOnThisThread,
  type LoadedBpfObject,
} from '@tld/bpf-programs';
import { bpfSupport, pagesWith, register, unmapPages, unregister, type OwnPages } from '@tld/testkit';

const support = bpfSupport();

describe.skipIf(!support.supported)('an object linked from tld_reader.bpf.o and tld_cached.bpf.o', () => {
  let dir: string;
  let obj: LoadedBpfObject;
  let pages: OwnPages;
  const REQ_ID = 0x1234_5678_9abc_def0n;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tld-linked-'));
    const linked = join(dir, 'linked.bpf.o');
    execFileSync('bpftool', ['gen', 'object', linked, objectPaths.reader, objectPaths.cached]);
    obj = loadObject(linked); // every map private
    pages = pagesWith([
      { name: 'l_pad', size: 24, value: 1n },
      { name: CACHED_KEYS.reqId.name, size: CACHED_KEYS.reqId.size, value: REQ_ID },
    ]);
  });
  afterAll(() => {
    const gone = obj ? unregister(obj.mapFd(names.dataMap)) : true;
    obj?.close();
    if (gone && pages) unmapPages(pages);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads with both programs and one tld_data_map', () => {
    expect(Object.keys(obj.progs).sort()).toEqual([names.cachedProgram, names.readerProgram].sort());
    expect(Object.keys(obj.maps)).toEqual(expect.arrayContaining([names.dataMap, names.keyMap, names.keyOwnerMap]));
    expect(obj.createdPins).toEqual([]);
  });

  it('both programs read the one registration of this thread', () => {
    register(obj.mapFd(names.dataMap), pages);
    const read = readOnThisThread(obj.progFd(names.readerProgram), [CACHED_KEYS.reqId.name]);
    expect(decodeU64(read.values['req_id'])).toBe(REQ_ID);
    expect(read.keys['req_id']?.offset).toBe(pages.at['req_id']);
    const cached = runCachedOnThisThread(obj.progFd(names.cachedProgram));
    expect(cached.reqId).toBe(REQ_ID);
    expect(cached.reqIdCache.after).toBe(pages.at['req_id']);
  });
});
