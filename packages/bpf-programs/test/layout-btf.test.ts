// src/ctx-layout.ts computes the ctx offsets of the syscall programs; the kernel runs them with the layout clang
// put into each object. Compare every number with the objects' own BTF, so a layout rule the generator gets
// wrong fails here (test/layout.test.ts checks the same against a host build of the header).
import { describe, expect, it } from 'vitest';
import { BenchLayout, CachedLayout, LifecycleLayout, TraceLayout, objectPaths } from '../src/index.js';
import { arrayLength, btf, offsetOf, struct } from './btf-util.js';
import { readerLayoutFields } from './reader-layout.js';

describe('src/ctx-layout.ts agrees with the BTF of the built objects', () => {
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

  it('struct tld_bench_ctx and tld_trace_ctx in tld_bench.bpf.o', () => {
    const types = btf(objectPaths.bench);
    const bench = struct(types, 'tld_bench_ctx');
    const trace = struct(types, 'tld_trace_ctx');
    expect({ ...BenchLayout }).toEqual({
      ctxSize: bench.size,
      iterationsOffset: offsetOf(bench, 'iterations'),
      errOffset: offsetOf(bench, 'err'),
      nsOffset: offsetOf(bench, 'ns'),
      sumOffset: offsetOf(bench, 'sum'),
    });
    expect({ ...TraceLayout }).toEqual({
      ctxSize: trace.size,
      steps: arrayLength(types, trace, 'ns'),
      nsOffset: offsetOf(trace, 'ns'),
      countOffset: offsetOf(trace, 'count'),
      activeOffset: offsetOf(trace, 'active'),
    });
  });

  it('struct tld_lifecycle_ctx in tld_lifecycle.bpf.o', () => {
    const types = btf(objectPaths.lifecycle);
    const ctx = struct(types, 'tld_lifecycle_ctx');
    expect({
      ctxSize: LifecycleLayout.ctxSize,
      canaryWrites: LifecycleLayout.canaryWritesOffset,
      pagesSeen: LifecycleLayout.pagesSeenOffset,
      pagesUnmapped: LifecycleLayout.pagesUnmappedOffset,
      unmapViolations: LifecycleLayout.unmapViolationsOffset,
    }).toEqual({
      ctxSize: ctx.size,
      canaryWrites: offsetOf(ctx, 'canary_writes'),
      pagesSeen: offsetOf(ctx, 'pages_seen'),
      pagesUnmapped: offsetOf(ctx, 'pages_unmapped'),
      unmapViolations: offsetOf(ctx, 'unmap_violations'),
    });
  });
});
