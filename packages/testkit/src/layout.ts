// The ctx structs of the test-side programs (bpf/tld_bench.bpf.c, bpf/tld_lifecycle.bpf.c, bpf/tld_context.bpf.c,
// bpf/tld_otel_header.bpf.c), described once with
// @tld/bpf-programs' C layout rules: include/tld_testkit.h is rendered from these (gen/write-header.mjs), and
// bench.ts / lifecycle.ts use the offsets computed here. The header asserts every offset, so the objects only
// compile when C agrees.
import {
  type Define,
  type StringDefine,
  at,
  bits,
  define,
  renderDefines,
  renderStringDefines,
  renderStruct,
  stringDefine,
  struct,
} from '@tld/bpf-programs/c-layout';
import { REGENERATE_COMMAND } from '@tld/protocol';

const defines: readonly Define[] = [
  { name: 'TLD_TRACE_STEPS', value: 5, comment: 'kinds of system call tld_trace_end reports (TLD_TRACE_*)' },
  {
    name: 'TLD_LIFECYCLE_CANARY',
    value: 0x7c0ffee5,
    comment: 'what tld_canary_writer stores into key TLD_LIFECYCLE_CANARY_KEY',
  },
  {
    name: 'TLD_CONTEXT_KEYS',
    value: 4,
    comment: 'keys the context readers read through the walk: req_id, route, weight, mark',
  },
  { name: 'TLD_CONTEXT_ROUTE_BYTES', value: 32, comment: 'size of the key "route" that the context readers read' },
  {
    name: 'TLD_CONTEXT_MAX_SAMPLES',
    value: 65536,
    comment: 'readings tld_context_samples holds (a ring: later ones overwrite)',
  },
  { name: 'TLD_OTEL_TRACE_ID_BYTES', value: 16, comment: 'OTEP 4947 trace-id: a W3C trace id' },
  { name: 'TLD_OTEL_SPAN_ID_BYTES', value: 8, comment: 'OTEP 4947 span-id: a W3C span id' },
];

const stringDefines: readonly StringDefine[] = [
  { name: 'TLD_LIFECYCLE_CANARY_KEY', value: 'tld_canary', comment: 'u64 key tld_canary_writer writes into' },
  {
    name: 'TLD_LIFECYCLE_PAGE_KEY',
    value: 'tld_page_addr',
    comment: "u64 key holding the user address of the thread's data page, which the lifecycle watchers track",
  },
];

/** Indexes of tld_trace_ctx.ns / count: what a traced thread spent in the kernel, by kind of system call. */
export const TraceStep = Object.freeze({ PIDFD_OPEN: 0, MAP_UPDATE: 1, BPF_OTHER: 2, MMAP: 3, OTHER: 4 });

const benchCtx = struct(
  'tld_bench_ctx',
  [
    { name: 'iterations', type: '__u32', comment: 'in: iterations of the timed bpf_loop' },
    {
      name: 'err',
      type: '__s32',
      comment: 'out: 0, or a negative errno (bad input, tld_object_init failed, key missing)',
    },
    { name: 'ns', type: '__u64', comment: 'out: bpf_ktime_get_ns() around the whole loop' },
    { name: 'sum', type: '__u64', comment: 'out: sum of every value read (wraps), so the reads are real' },
  ],
  defines,
);

const traceCtx = struct(
  'tld_trace_ctx',
  [
    {
      name: 'ns',
      type: '__u64',
      count: 'TLD_TRACE_STEPS',
      comment: 'out: ns in system calls of each kind since tld_trace_begin',
    },
    { name: 'count', type: '__u32', count: 'TLD_TRACE_STEPS', comment: 'out: system calls of each kind' },
    { name: 'active', type: '__u32', comment: 'out: 1 when tld_trace_begin ran on this thread before' },
  ],
  defines,
);

const lifecycleCtx = struct(
  'tld_lifecycle_ctx',
  [
    { name: 'canary_writes', type: '__u64', comment: 'out: canaries tld_canary_writer stored' },
    {
      name: 'pages_seen',
      type: '__u64',
      comment: 'out: data pages seen registered (each address counted until unmapped)',
    },
    { name: 'pages_unmapped', type: '__u64', comment: 'out: ... and unmapped since' },
    {
      name: 'unmap_violations',
      type: '__u64',
      comment: 'out: munmap() of its data page by a thread still registered with it',
    },
  ],
  defines,
);

/** What the context readers read: one result (TLD_FROM_*, or a negative errno) and value per key. */
const contextValues = struct(
  'tld_context_values',
  [
    {
      name: 'ret',
      type: '__s32',
      count: 'TLD_CONTEXT_KEYS',
      comment: 'tld_get_context_data() of req_id, route, weight, mark',
    },
    { name: 'req_id', type: '__u64' },
    { name: 'weight', type: '__u64', comment: 'an f64, as its bits' },
    { name: 'mark', type: '__u64' },
    { name: 'route', type: 'char', count: 'TLD_CONTEXT_ROUTE_BYTES' },
  ],
  defines,
);

const contextCtx = struct(
  'tld_context_ctx',
  [
    { name: 'init_err', type: '__s32', comment: 'out: tld_object_init() result' },
    { name: 'tid', type: '__u32', comment: 'out: task->pid' },
    { name: 'read', type: contextValues, comment: 'out' },
    {
      name: 'walk_reads',
      type: '__u32',
      comment: 'out: user memory reads of one more walk to req_id (tld_read_context only; 0 when it gave no value)',
    },
    { name: '__pad', type: '__u32' },
  ],
  defines,
);

/** One reading of the context sampler (tld_context.bpf.c), for a thread of the watched process. */
const contextSample = struct(
  'tld_context_sample',
  [
    { name: 'ns', type: '__u64', comment: 'bpf_ktime_get_ns() (CLOCK_MONOTONIC, as process.hrtime)' },
    { name: 'tid', type: '__u32' },
    { name: 'kind', type: '__u32', comment: 'TLD_CONTEXT_SAMPLE_*' },
    { name: 'read', type: contextValues },
  ],
  defines,
);

const contextConfig = struct(
  'tld_context_config',
  [
    { name: 'tgid', type: '__u32', comment: 'in: the process whose threads are read; 0 = none' },
    { name: '__pad', type: '__u32' },
    { name: 'next', type: '__u64', comment: 'out: readings taken (the ring index of the next one, unwrapped)' },
  ],
  defines,
);

/** tld_context_sample.kind: which program took the reading. */
export const ContextSampleKind = Object.freeze({ CPU: 1, IDLE: 2 });

/** struct tld_context_values / _ctx / _sample / _config (include/tld_testkit.h), as offsets. */
export const ContextLayout = Object.freeze({
  keys: define('TLD_CONTEXT_KEYS', defines),
  routeBytes: define('TLD_CONTEXT_ROUTE_BYTES', defines),
  maxSamples: define('TLD_CONTEXT_MAX_SAMPLES', defines),
  values: Object.freeze({
    size: contextValues.size,
    retOffset: at(contextValues, 'ret'),
    reqIdOffset: at(contextValues, 'req_id'),
    weightOffset: at(contextValues, 'weight'),
    markOffset: at(contextValues, 'mark'),
    routeOffset: at(contextValues, 'route'),
  }),
  ctxSize: contextCtx.size,
  initErrOffset: at(contextCtx, 'init_err'),
  tidOffset: at(contextCtx, 'tid'),
  readOffset: at(contextCtx, 'read'),
  walkReadsOffset: at(contextCtx, 'walk_reads'),
  sample: Object.freeze({
    size: contextSample.size,
    nsOffset: at(contextSample, 'ns'),
    tidOffset: at(contextSample, 'tid'),
    kindOffset: at(contextSample, 'kind'),
    readOffset: at(contextSample, 'read'),
  }),
  config: Object.freeze({
    size: contextConfig.size,
    tgidOffset: at(contextConfig, 'tgid'),
    nextOffset: at(contextConfig, 'next'),
  }),
});

/** What tld_read_otel_header saw: where the walk led, and the OTEP 4947 lead-in of the record it reached. */
const otelHeaderCtx = struct(
  'tld_otel_header_ctx',
  [
    { name: 'init_err', type: '__s32', comment: 'out: tld_object_init() result' },
    { name: 'walk', type: '__s32', comment: 'out: TLD_FROM_CONTEXT (lead-in below), TLD_FROM_PAGE, or < 0' },
    { name: 'trace_id', type: '__u8', count: 'TLD_OTEL_TRACE_ID_BYTES', comment: "out: the record's lead-in" },
    { name: 'span_id', type: '__u8', count: 'TLD_OTEL_SPAN_ID_BYTES' },
    { name: 'valid', type: '__u8' },
    { name: 'trace_flags', type: '__u8' },
    { name: 'attrs_data_size', type: '__u16' },
  ],
  defines,
);

/** struct tld_otel_header_ctx (include/tld_testkit.h), as offsets. */
export const OtelHeaderLayout = Object.freeze({
  ctxSize: otelHeaderCtx.size,
  initErrOffset: at(otelHeaderCtx, 'init_err'),
  walkOffset: at(otelHeaderCtx, 'walk'),
  traceIdOffset: at(otelHeaderCtx, 'trace_id'),
  spanIdOffset: at(otelHeaderCtx, 'span_id'),
  validOffset: at(otelHeaderCtx, 'valid'),
  traceFlagsOffset: at(otelHeaderCtx, 'trace_flags'),
  attrsDataSizeOffset: at(otelHeaderCtx, 'attrs_data_size'),
  traceIdBytes: define('TLD_OTEL_TRACE_ID_BYTES', defines),
  spanIdBytes: define('TLD_OTEL_SPAN_ID_BYTES', defines),
});

/** struct tld_bench_ctx (include/tld_testkit.h), as offsets. */
export const BenchLayout = Object.freeze({
  ctxSize: benchCtx.size,
  iterationsOffset: at(benchCtx, 'iterations'),
  errOffset: at(benchCtx, 'err'),
  nsOffset: at(benchCtx, 'ns'),
  sumOffset: at(benchCtx, 'sum'),
});

/** struct tld_trace_ctx (include/tld_testkit.h), as offsets. */
export const TraceLayout = Object.freeze({
  ctxSize: traceCtx.size,
  steps: define('TLD_TRACE_STEPS', defines),
  nsOffset: at(traceCtx, 'ns'),
  countOffset: at(traceCtx, 'count'),
  activeOffset: at(traceCtx, 'active'),
});

/** struct tld_lifecycle_ctx (include/tld_testkit.h) and the keys tld_lifecycle.bpf.c uses. */
export const LifecycleLayout = Object.freeze({
  ctxSize: lifecycleCtx.size,
  canaryWritesOffset: at(lifecycleCtx, 'canary_writes'),
  pagesSeenOffset: at(lifecycleCtx, 'pages_seen'),
  pagesUnmappedOffset: at(lifecycleCtx, 'pages_unmapped'),
  unmapViolationsOffset: at(lifecycleCtx, 'unmap_violations'),
  canary: define('TLD_LIFECYCLE_CANARY', defines),
  canaryKey: stringDefine('TLD_LIFECYCLE_CANARY_KEY', stringDefines),
  pageKey: stringDefine('TLD_LIFECYCLE_PAGE_KEY', stringDefines),
});

/** The command that regenerates include/tld_testkit.h (the workspace's one `gen`); printed in its first line. */
export const TESTKIT_HEADER_COMMAND = REGENERATE_COMMAND;

/** The text of include/tld_testkit.h. */
export function renderTestkitHeader(): string {
  return `/* Generated by @tld/testkit from src/layout.ts. DO NOT EDIT: run \`${TESTKIT_HEADER_COMMAND}\`. */
/* SPDX-License-Identifier: MIT */
/*
 * Context layouts of the test-side SEC("syscall") programs in bpf/, shared by the BPF side and by the TypeScript
 * that runs them with BPF_PROG_TEST_RUN. All fields are naturally aligned.
 */
#ifndef __TLD_TESTKIT_H
#define __TLD_TESTKIT_H

#include "tld_layout.h"

${renderDefines(defines)}
${renderStringDefines(stringDefines)}

/* tld_bench.bpf.c (benchmarks): tld_bench_* time reads in the kernel; tld_trace_* time a thread's system calls. */
${bits('TLD_TRACE_', TraceStep)}
${renderStruct(benchCtx)}
${renderStruct(traceCtx)}
/* tld_lifecycle.bpf.c: program "tld_lifecycle_stats" reports the counters of the lifecycle watchers. */
${renderStruct(lifecycleCtx)}
/* tld_context.bpf.c: "tld_read_context" (and "tld_read_context_task", through tld_get_context_data_task()) reads
 * four fixed keys through tld_get_context_data() on the calling thread; the sampler programs record readings of a
 * process's threads into tld_context_samples. */
${bits('TLD_CONTEXT_SAMPLE_', ContextSampleKind)}
${renderStruct(contextValues)}
${renderStruct(contextCtx)}
${renderStruct(contextSample)}
${renderStruct(contextConfig)}
/* tld_otel_header.bpf.c: "tld_read_otel_header" walks to the calling thread's current run record (tld.bpf.h) and
 * copies the OTEP 4947 lead-in of its header, what an OpenTelemetry profiler reading the record sees. */
${renderStruct(otelHeaderCtx)}
#endif /* __TLD_TESTKIT_H */
`;
}
