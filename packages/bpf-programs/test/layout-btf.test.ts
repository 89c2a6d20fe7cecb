// src/reader-layout.ts computes the offsets of the syscall programs; the kernel runs them with the layout clang
// put into each object. Compare every number with the objects' own BTF, so a layout rule the generator gets
// wrong fails here (test/layout.test.ts checks the same against a host build of the header).
import { describe, expect, it } from 'vitest';
import { CachedLayout, objectPaths } from '../src/index.js';
import { arrayLength, btf, offsetOf, struct } from './btf-util.js';
import { readerLayoutFields } from './reader-layout.js';

describe('the layout modules agree with the BTF of the built objects', () => {
  it('struct tld_reader_ctx / tld_reader_key in tld_reader.bpf.o', () => {
    const types = btf(objectPaths.reader);
    const ctx = struct(types, 'tld_reader_ctx');
    const key = struct(types, 'tld_reader_key');
    expect(readerLayoutFields()).toEqual({
      ctxSize: ctx.size,
      maxKeys: arrayLength(types, ctx, 'keys'),
      nrKeys: offsetOf(ctx, 'nr_keys'),
      status: offsetOf(ctx, 'status'),
      tid: offsetOf(ctx, 'tid'),
      tgid: offsetOf(ctx, 'tgid'),
      start: offsetOf(ctx, 'start'),
      metaCnt: offsetOf(ctx, 'meta_cnt'),
      metaSize: offsetOf(ctx, 'meta_size'),
      keys: offsetOf(ctx, 'keys'),
      keySize: key.size,
      nameBytes: arrayLength(types, key, 'name'),
      valueBytes: arrayLength(types, key, 'value'),
      nameOffset: offsetOf(key, 'name'),
      valueOffset: offsetOf(key, 'value'),
      offsetOffset: offsetOf(key, 'offset'),
      sizeOffset: offsetOf(key, 'size'),
      foundOffset: offsetOf(key, 'found'),
      badNameOffset: offsetOf(key, 'bad_name'),
    });
  });

  it('struct tld_cached_ctx in tld_cached.bpf.o', () => {
    const types = btf(objectPaths.cached);
    const ctx = struct(types, 'tld_cached_ctx');
    expect({ ...CachedLayout }).toEqual({
      ctxSize: ctx.size,
      initErrOffset: offsetOf(ctx, 'init_err'),
      foundOffset: offsetOf(ctx, 'found'),
      reqIdOffset: offsetOf(ctx, 'req_id'),
      routeOffset: offsetOf(ctx, 'route'),
      routeBytes: arrayLength(types, ctx, 'route'),
      reqIdCacheBeforeOffset: offsetOf(ctx, 'req_id_cache_before'),
      reqIdCacheAfterOffset: offsetOf(ctx, 'req_id_cache_after'),
      routeCacheBeforeOffset: offsetOf(ctx, 'route_cache_before'),
      routeCacheAfterOffset: offsetOf(ctx, 'route_cache_after'),
      tidOffset: offsetOf(ctx, 'tid'),
    });
  });
});
