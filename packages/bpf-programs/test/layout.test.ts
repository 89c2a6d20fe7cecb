// include/tld_reader.h is generated from src/reader-layout.ts, which also computes the offsets TypeScript uses.
// Compile the header for the host and compare every offset, size and constant with what the generator computed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedFound, CachedLayout, IterRecordLayout, ReaderStatus, includeDirs } from '../src/index.js';
import { readerLayoutFields } from './reader-layout.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('include/tld_reader.h and src/reader-layout.ts agree', () => {
  let dir: string;
  let c: Record<string, number>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tld-layout-'));
    const exe = join(dir, 'probe');
    execFileSync('clang-19', [
      '-Wall',
      '-Werror',
      ...includeDirs.flatMap((d) => ['-I', d]),
      join(pkg, 'test/layout-probe.c'),
      '-o',
      exe,
    ]);
    c = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Record<string, number>;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reader ctx', () => {
    expect(readerLayoutFields()).toEqual({
      maxKeys: c['maxKeys'],
      nameBytes: c['nameBytes'],
      valueBytes: c['valueBytes'],
      ctxSize: c['sizeof tld_reader_ctx'],
      keySize: c['sizeof tld_reader_key'],
      nrKeys: c['tld_reader_ctx.nr_keys'],
      status: c['tld_reader_ctx.status'],
      tid: c['tld_reader_ctx.tid'],
      tgid: c['tld_reader_ctx.tgid'],
      start: c['tld_reader_ctx.start'],
      metaCnt: c['tld_reader_ctx.meta_cnt'],
      metaSize: c['tld_reader_ctx.meta_size'],
      keys: c['tld_reader_ctx.keys'],
      nameOffset: c['tld_reader_key.name'],
      valueOffset: c['tld_reader_key.value'],
      offsetOffset: c['tld_reader_key.offset'],
      sizeOffset: c['tld_reader_key.size'],
      foundOffset: c['tld_reader_key.found'],
      badNameOffset: c['tld_reader_key.bad_name'],
    });
    expect({ ...ReaderStatus }).toEqual({
      STORAGE: c['STORAGE'],
      DATA: c['DATA'],
      META: c['META'],
      REGISTERED: c['REGISTERED'],
    });
  });

  it('cached ctx', () => {
    expect({
      ctxSize: CachedLayout.ctxSize,
      initErr: CachedLayout.initErrOffset,
      found: CachedLayout.foundOffset,
      reqId: CachedLayout.reqIdOffset,
      route: CachedLayout.routeOffset,
      routeBytes: CachedLayout.routeBytes,
      reqIdBefore: CachedLayout.reqIdCacheBeforeOffset,
      reqIdAfter: CachedLayout.reqIdCacheAfterOffset,
      routeBefore: CachedLayout.routeCacheBeforeOffset,
      routeAfter: CachedLayout.routeCacheAfterOffset,
      tid: CachedLayout.tidOffset,
      FOUND_REQ_ID: CachedFound.REQ_ID,
      FOUND_ROUTE: CachedFound.ROUTE,
    }).toEqual({
      ctxSize: c['sizeof tld_cached_ctx'],
      initErr: c['tld_cached_ctx.init_err'],
      found: c['tld_cached_ctx.found'],
      reqId: c['tld_cached_ctx.req_id'],
      route: c['tld_cached_ctx.route'],
      routeBytes: c['routeBytes'],
      reqIdBefore: c['tld_cached_ctx.req_id_cache_before'],
      reqIdAfter: c['tld_cached_ctx.req_id_cache_after'],
      routeBefore: c['tld_cached_ctx.route_cache_before'],
      routeAfter: c['tld_cached_ctx.route_cache_after'],
      tid: c['tld_cached_ctx.tid'],
      FOUND_REQ_ID: c['FOUND_REQ_ID'],
      FOUND_ROUTE: c['FOUND_ROUTE'],
    });
  });

  it("iterator record (tld_iter.bpf.c writes it from a local, so it is not in any object's BTF)", () => {
    expect({ ...IterRecordLayout }).toEqual({
      size: c['sizeof tld_iter_record'],
      commBytes: c['iterCommBytes'],
      tidOffset: c['tld_iter_record.tid'],
      tgidOffset: c['tld_iter_record.tgid'],
      statusOffset: c['tld_iter_record.status'],
      valueStartOffset: c['tld_iter_record.value_start'],
      commOffset: c['tld_iter_record.comm'],
      startOffset: c['tld_iter_record.start'],
      metaCntOffset: c['tld_iter_record.meta_cnt'],
      metaSizeOffset: c['tld_iter_record.meta_size'],
      metaBytesOffset: c['tld_iter_record.meta_bytes'],
      dataBytesOffset: c['tld_iter_record.data_bytes'],
      ctxStatusOffset: c['tld_iter_record.ctx_status'],
      ctxBytesOffset: c['tld_iter_record.ctx_bytes'],
      ctxPresentOffset: c['tld_iter_record.ctx_present'],
      presentBytes: c['iterPresentBytes'],
    });
  });
});
