// The ctx structs of the SEC("syscall") reader programs, described once. include/tld_reader.h is rendered from
// these descriptions (gen/write-reader-header.mjs) and every offset TypeScript uses is computed from them with C's
// layout rules, so no offset is written by hand. test/layout*.test.ts compare the result with clang and with the
// built objects' BTF.
import { SLOT_NAME_SIZE } from '@tld/protocol';

type Scalar = 'char' | '__u8' | '__u16' | '__u32' | '__s32' | '__u64';
const SCALAR_SIZE: Record<Scalar, number> = { char: 1, __u8: 1, __u16: 2, __u32: 4, __s32: 4, __u64: 8 };

/** One #define of a generated header: a name, its value and what it means. */
export interface Define {
  readonly name: string;
  readonly value: number;
  readonly comment: string;
}

export interface FieldSpec {
  readonly name: string;
  readonly type: Scalar | StructLayout;
  /** Array length, as the name of one of the header's defines. */
  readonly count?: string;
  readonly comment?: string;
}

/** A struct with its fields' offsets as the C compiler lays them out (natural alignment, tail padding). */
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldSpec[];
  readonly offsets: Readonly<Record<string, number>>;
}

const defines: Define[] = [
  { name: 'TLD_READER_MAX_KEYS', value: 16, comment: 'keys one run of tld_read looks up' },
  {
    name: 'TLD_READER_NAME_BYTES',
    value: Math.ceil(SLOT_NAME_SIZE / 8) * 8,
    comment: 'TLD_NAME_LEN rounded up to whole 8-byte words',
  },
  { name: 'TLD_READER_VALUE_BYTES', value: 64, comment: 'bytes of each value copied out; the rest of a longer one is not' },
  { name: 'TLD_CACHED_ROUTE_BYTES', value: 32, comment: 'size of the key "route" that tld_read_cached reads' },
  { name: 'TLD_TRACE_STEPS', value: 5, comment: 'kinds of system call tld_trace_end reports (TLD_TRACE_*)' },
  { name: 'TLD_ITER_COMM_BYTES', value: 16, comment: 'TASK_COMM_LEN: bytes of task->comm in an iterator record' },
  { name: 'TLD_CONTEXT_KEYS', value: 4, comment: 'keys tld_read_context reads through the walk: req_id, route, weight, mark' },
  { name: 'TLD_CONTEXT_ROUTE_BYTES', value: 32, comment: 'size of the key "route" that the context readers read' },
  { name: 'TLD_CONTEXT_MAX_SAMPLES', value: 65536, comment: 'readings tld_context_samples holds (a ring: later ones overwrite)' },
  { name: 'TLD_ITER_PRESENT_BYTES', value: 64, comment: "bytes of a run record's presence bitmap in an iterator record" },
  { name: 'TLD_LIFECYCLE_CANARY', value: 0x7c0ffee5, comment: 'what tld_canary_writer stores into key TLD_LIFECYCLE_CANARY_KEY' },
];

/** String #defines of the header: key names a BPF program and its TypeScript runner both use. */
const stringDefines: { readonly name: string; readonly value: string; readonly comment: string }[] = [
  { name: 'TLD_LIFECYCLE_CANARY_KEY', value: 'tld_canary', comment: 'u64 key tld_canary_writer writes into' },
  {
    name: 'TLD_LIFECYCLE_PAGE_KEY',
    value: 'tld_page_addr',
    comment: "u64 key holding the user address of the thread's data page, which the lifecycle watchers track",
  },
];

/** The value of define `name` of `from` (default: this header's defines). */
export function define(name: string, from: readonly Define[] = defines): number {
  const found = from.find((d) => d.name === name);
  if (!found) throw new Error(`no define ${name}`);
  return found.value;
}

function stringDefine(name: string): string {
  const found = stringDefines.find((d) => d.name === name);
  if (!found) throw new Error(`no string define ${name}`);
  return found.value;
}

/** Lays out struct `name` with C's rules; array counts name one of `from`'s defines. */
export function struct(name: string, fields: FieldSpec[], from: readonly Define[] = defines): StructLayout {
  let offset = 0;
  let align = 1;
  const offsets: Record<string, number> = {};
  for (const field of fields) {
    const [size, fieldAlign] =
      typeof field.type === 'string' ? [SCALAR_SIZE[field.type], SCALAR_SIZE[field.type]] : [field.type.size, field.type.align];
    offset = Math.ceil(offset / fieldAlign) * fieldAlign;
    offsets[field.name] = offset;
    offset += size * (field.count === undefined ? 1 : define(field.count, from));
    align = Math.max(align, fieldAlign);
  }
  return Object.freeze({ name, size: Math.ceil(offset / align) * align, align, fields, offsets: Object.freeze(offsets) });
}

/** tld_reader_ctx.status bits. */
export const ReaderStatus = Object.freeze({
  /** the thread has an element in tld_data_map */
  STORAGE: 0x1,
  /** ... whose data pointer is non-NULL */
  DATA: 0x2,
  /** ... whose metadata pointer is non-NULL */
  META: 0x4,
  /** all three: BPF can read the thread's keys */
  REGISTERED: 0x7,
});

/** tld_cached_ctx.found bits. */
export const CachedFound = Object.freeze({ REQ_ID: 0x1, ROUTE: 0x2 });

/** Indexes of tld_trace_ctx.ns / count: what a traced thread spent in the kernel, by kind of system call. */
export const TraceStep = Object.freeze({ PIDFD_OPEN: 0, MAP_UPDATE: 1, BPF_OTHER: 2, MMAP: 3, OTHER: 4 });

const readerKey = struct('tld_reader_key', [
  { name: 'name', type: 'char', count: 'TLD_READER_NAME_BYTES', comment: 'in: NUL-padded key name' },
  { name: 'value', type: '__u8', count: 'TLD_READER_VALUE_BYTES', comment: 'out: first min(size, 64) bytes of the value; the rest zero' },
  { name: 'offset', type: '__s32', comment: 'out: start + off when found, else -(slots searched)' },
  { name: 'size', type: '__u16', comment: "out: the key's size when found, else 0" },
  { name: 'found', type: '__u8', comment: 'out: 1 when found' },
  { name: 'bad_name', type: '__u8', comment: 'out: 1 when name is empty or has no NUL in TLD_NAME_LEN bytes' },
]);

const readerCtx = struct('tld_reader_ctx', [
  { name: 'nr_keys', type: '__u32', comment: 'in: keys[0 .. nr_keys-1] are looked up (at most TLD_READER_MAX_KEYS)' },
  { name: 'status', type: '__u32', comment: 'out: TLD_READER_* bits' },
  { name: 'tid', type: '__u32', comment: 'out: task->pid of the calling thread as BPF saw it' },
  { name: 'tgid', type: '__u32', comment: 'out: task->tgid' },
  { name: 'start', type: '__u64', comment: 'out: `start` read from the data page' },
  { name: 'meta_cnt', type: '__u16', comment: 'out: meta.cnt' },
  { name: 'meta_size', type: '__u16', comment: 'out: meta.size' },
  { name: '__pad', type: '__u32' },
  { name: 'keys', type: readerKey, count: 'TLD_READER_MAX_KEYS' },
]);

const cachedCtx = struct('tld_cached_ctx', [
  { name: 'init_err', type: '__s32', comment: 'out: tld_object_init() result (0, -ENODATA, -ENOMEM)' },
  { name: 'found', type: '__u32', comment: 'out: TLD_CACHED_FOUND_* bits' },
  { name: 'req_id', type: '__u64', comment: 'out: value of "req_id" (u64)' },
  { name: 'route', type: 'char', count: 'TLD_CACHED_ROUTE_BYTES', comment: 'out: value of "route" (a string key)' },
  { name: 'req_id_cache_before', type: '__s32', comment: "out: tld_key_map's cached position of req_id before the lookup" },
  { name: 'req_id_cache_after', type: '__s32', comment: 'out: ... and after it' },
  { name: 'route_cache_before', type: '__s32', comment: 'out: the same for route' },
  { name: 'route_cache_after', type: '__s32' },
  { name: 'tid', type: '__u32', comment: 'out: task->pid' },
  { name: '__pad', type: '__u32' },
]);

const benchCtx = struct('tld_bench_ctx', [
  { name: 'iterations', type: '__u32', comment: 'in: iterations of the timed bpf_loop' },
  { name: 'err', type: '__s32', comment: 'out: 0, or a negative errno (bad input, tld_object_init failed, key missing)' },
  { name: 'ns', type: '__u64', comment: 'out: bpf_ktime_get_ns() around the whole loop' },
  { name: 'sum', type: '__u64', comment: 'out: sum of every value read (wraps), so the reads are real' },
]);

const traceCtx = struct('tld_trace_ctx', [
  { name: 'ns', type: '__u64', count: 'TLD_TRACE_STEPS', comment: 'out: ns in system calls of each kind since tld_trace_begin' },
  { name: 'count', type: '__u32', count: 'TLD_TRACE_STEPS', comment: 'out: system calls of each kind' },
  { name: 'active', type: '__u32', comment: 'out: 1 when tld_trace_begin ran on this thread before' },
]);

/**
 * tld_iter.bpf.c writes one record per task with an element in tld_data_map: this header, then meta_bytes bytes
 * of the metadata page and data_bytes bytes of the data page (each 0 when that pointer is NULL).
 */
const iterRecord = struct('tld_iter_record', [
  { name: 'tid', type: '__u32', comment: 'task->pid: the kernel thread id' },
  { name: 'tgid', type: '__u32', comment: 'task->tgid: the process id' },
  { name: 'status', type: '__u32', comment: 'TLD_READER_* bits' },
  { name: 'value_start', type: '__u32', comment: 'start of a 24-byte map value; 0 for the 16-byte value' },
  { name: 'comm', type: 'char', count: 'TLD_ITER_COMM_BYTES', comment: 'task->comm, NUL-terminated' },
  { name: 'start', type: '__u64', comment: 'the first 8 bytes of the data page (`start` for 16-byte readers)' },
  { name: 'meta_cnt', type: '__u16', comment: 'meta.cnt' },
  { name: 'meta_size', type: '__u16', comment: 'meta.size' },
  { name: 'meta_bytes', type: '__u32', comment: 'bytes of the metadata page that follow this header' },
  { name: 'data_bytes', type: '__u32', comment: 'bytes of the data page that follow those' },
  { name: 'ctx_status', type: '__s32', comment: "the walk to the task's current run(): TLD_FROM_* or a negative errno" },
  { name: 'ctx_bytes', type: '__u32', comment: "bytes of the run record's values area that follow the data page" },
  { name: '__pad', type: '__u32' },
  { name: 'ctx_present', type: '__u8', count: 'TLD_ITER_PRESENT_BYTES', comment: "the run record's presence bitmap" },
]);

/** What the context readers read: one result (TLD_FROM_*, or a negative errno) and value per key. */
const contextValues = struct('tld_context_values', [
  { name: 'ret', type: '__s32', count: 'TLD_CONTEXT_KEYS', comment: 'tld_get_context_data() of req_id, route, weight, mark' },
  { name: 'req_id', type: '__u64' },
  { name: 'weight', type: '__u64', comment: 'an f64, as its bits' },
  { name: 'mark', type: '__u64' },
  { name: 'route', type: 'char', count: 'TLD_CONTEXT_ROUTE_BYTES' },
]);

const contextCtx = struct('tld_context_ctx', [
  { name: 'init_err', type: '__s32', comment: 'out: tld_object_init() result' },
  { name: 'tid', type: '__u32', comment: 'out: task->pid' },
  { name: 'read', type: contextValues, comment: 'out' },
]);

/** One reading of the context sampler (tld_context.bpf.c), for a thread of the watched process. */
const contextSample = struct('tld_context_sample', [
  { name: 'ns', type: '__u64', comment: 'bpf_ktime_get_ns() (CLOCK_MONOTONIC, as process.hrtime)' },
  { name: 'tid', type: '__u32' },
  { name: 'kind', type: '__u32', comment: 'TLD_CONTEXT_SAMPLE_*' },
  { name: 'read', type: contextValues },
]);

const contextConfig = struct('tld_context_config', [
  { name: 'tgid', type: '__u32', comment: 'in: the process whose threads are read; 0 = none' },
  { name: '__pad', type: '__u32' },
  { name: 'next', type: '__u64', comment: 'out: readings taken (the ring index of the next one, unwrapped)' },
]);

const lifecycleCtx = struct('tld_lifecycle_ctx', [
  { name: 'canary_writes', type: '__u64', comment: 'out: canaries tld_canary_writer stored' },
  { name: 'pages_seen', type: '__u64', comment: 'out: data pages seen registered (each address counted until unmapped)' },
  { name: 'pages_unmapped', type: '__u64', comment: 'out: ... and unmapped since' },
  { name: 'unmap_violations', type: '__u64', comment: 'out: munmap() of its data page by a thread still registered with it' },
]);

/** Offset of `field` in `layout`; throws when there is no such field. */
export function at(layout: StructLayout, field: string): number {
  const offset = layout.offsets[field];
  if (offset === undefined) throw new Error(`no field ${field} in struct ${layout.name}`);
  return offset;
}

/** struct tld_reader_ctx / struct tld_reader_key (include/tld_reader.h), as offsets. */
export const ReaderLayout = Object.freeze({
  maxKeys: define('TLD_READER_MAX_KEYS'),
  nameBytes: define('TLD_READER_NAME_BYTES'),
  valueBytes: define('TLD_READER_VALUE_BYTES'),
  /** sizeof(struct tld_reader_ctx): ctx_size_in must cover every offset the program touches */
  ctxSize: readerCtx.size,
  nrKeysOffset: at(readerCtx, 'nr_keys'),
  statusOffset: at(readerCtx, 'status'),
  tidOffset: at(readerCtx, 'tid'),
  tgidOffset: at(readerCtx, 'tgid'),
  startOffset: at(readerCtx, 'start'),
  metaCntOffset: at(readerCtx, 'meta_cnt'),
  metaSizeOffset: at(readerCtx, 'meta_size'),
  keysOffset: at(readerCtx, 'keys'),
  /** sizeof(struct tld_reader_key) */
  keySize: readerKey.size,
  key: Object.freeze({
    nameOffset: at(readerKey, 'name'),
    valueOffset: at(readerKey, 'value'),
    offsetOffset: at(readerKey, 'offset'),
    sizeOffset: at(readerKey, 'size'),
    foundOffset: at(readerKey, 'found'),
    badNameOffset: at(readerKey, 'bad_name'),
  }),
});

/** struct tld_cached_ctx (include/tld_reader.h), as offsets. */
export const CachedLayout = Object.freeze({
  ctxSize: cachedCtx.size,
  initErrOffset: at(cachedCtx, 'init_err'),
  foundOffset: at(cachedCtx, 'found'),
  reqIdOffset: at(cachedCtx, 'req_id'),
  routeOffset: at(cachedCtx, 'route'),
  routeBytes: define('TLD_CACHED_ROUTE_BYTES'),
  reqIdCacheBeforeOffset: at(cachedCtx, 'req_id_cache_before'),
  reqIdCacheAfterOffset: at(cachedCtx, 'req_id_cache_after'),
  routeCacheBeforeOffset: at(cachedCtx, 'route_cache_before'),
  routeCacheAfterOffset: at(cachedCtx, 'route_cache_after'),
  tidOffset: at(cachedCtx, 'tid'),
});

/** struct tld_bench_ctx (include/tld_reader.h), as offsets. */
export const BenchLayout = Object.freeze({
  ctxSize: benchCtx.size,
  iterationsOffset: at(benchCtx, 'iterations'),
  errOffset: at(benchCtx, 'err'),
  nsOffset: at(benchCtx, 'ns'),
  sumOffset: at(benchCtx, 'sum'),
});

/** struct tld_trace_ctx (include/tld_reader.h), as offsets. */
export const TraceLayout = Object.freeze({
  ctxSize: traceCtx.size,
  steps: define('TLD_TRACE_STEPS'),
  nsOffset: at(traceCtx, 'ns'),
  countOffset: at(traceCtx, 'count'),
  activeOffset: at(traceCtx, 'active'),
});

/** struct tld_iter_record (include/tld_reader.h), as offsets. */
export const IterRecordLayout = Object.freeze({
  size: iterRecord.size,
  commBytes: define('TLD_ITER_COMM_BYTES'),
  tidOffset: at(iterRecord, 'tid'),
  tgidOffset: at(iterRecord, 'tgid'),
  statusOffset: at(iterRecord, 'status'),
  valueStartOffset: at(iterRecord, 'value_start'),
  commOffset: at(iterRecord, 'comm'),
  startOffset: at(iterRecord, 'start'),
  metaCntOffset: at(iterRecord, 'meta_cnt'),
  metaSizeOffset: at(iterRecord, 'meta_size'),
  metaBytesOffset: at(iterRecord, 'meta_bytes'),
  dataBytesOffset: at(iterRecord, 'data_bytes'),
  ctxStatusOffset: at(iterRecord, 'ctx_status'),
  ctxBytesOffset: at(iterRecord, 'ctx_bytes'),
  ctxPresentOffset: at(iterRecord, 'ctx_present'),
  presentBytes: define('TLD_ITER_PRESENT_BYTES'),
});

/** Where tld_get_context_data() took a value from (its non-negative results). */
export const ContextFrom = Object.freeze({ PAGE: 0, CONTEXT: 1 });

/** tld_context_sample.kind: which program took the reading. */
export const ContextSampleKind = Object.freeze({ CPU: 1, IDLE: 2 });

/** struct tld_context_values / tld_context_ctx / tld_context_sample / tld_context_config (include/tld_reader.h). */
export const ContextLayout = Object.freeze({
  keys: define('TLD_CONTEXT_KEYS'),
  routeBytes: define('TLD_CONTEXT_ROUTE_BYTES'),
  maxSamples: define('TLD_CONTEXT_MAX_SAMPLES'),
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

/** struct tld_lifecycle_ctx (include/tld_reader.h) and the keys tld_lifecycle.bpf.c uses. */
export const LifecycleLayout = Object.freeze({
  ctxSize: lifecycleCtx.size,
  canaryWritesOffset: at(lifecycleCtx, 'canary_writes'),
  pagesSeenOffset: at(lifecycleCtx, 'pages_seen'),
  pagesUnmappedOffset: at(lifecycleCtx, 'pages_unmapped'),
  unmapViolationsOffset: at(lifecycleCtx, 'unmap_violations'),
  canary: define('TLD_LIFECYCLE_CANARY'),
  canaryKey: stringDefine('TLD_LIFECYCLE_CANARY_KEY'),
  pageKey: stringDefine('TLD_LIFECYCLE_PAGE_KEY'),
});

/** The command that regenerates the committed header; printed in its first line. */
export const READER_HEADER_COMMAND = 'pnpm --filter @tld/bpf-programs gen';

/** The C declaration of `layout` followed by a static assertion of its size and of every field's offset. */
export function renderStruct(layout: StructLayout): string {
  const lines = layout.fields.map((f) => {
    const type = typeof f.type === 'string' ? f.type : `struct ${f.type.name}`;
    const decl = `\t${type} ${f.name}${f.count === undefined ? '' : `[${f.count}]`};`;
    return f.comment ? `${decl.padEnd(40)} /* ${f.comment} */` : decl;
  });
  const asserts = [
    `TLD_STATIC_ASSERT(sizeof(struct ${layout.name}) == ${layout.size}, "sizeof(struct ${layout.name})");`,
    ...layout.fields.map(
      (f) =>
        `TLD_STATIC_ASSERT(__builtin_offsetof(struct ${layout.name}, ${f.name}) == ${at(layout, f.name)}, ` +
        `"${layout.name}.${f.name}");`,
    ),
  ];
  return `struct ${layout.name} {\n${lines.join('\n')}\n};\n${asserts.join('\n')}\n`;
}

/** One `#define <prefix><NAME> 0x<value>` line per entry. */
export function bits(prefix: string, values: Readonly<Record<string, number>>): string {
  return Object.entries(values)
    .map(([name, value]) => `#define ${prefix}${name} 0x${value.toString(16)}`)
    .join('\n');
}

/** One commented `#define` per entry. */
export function renderDefines(list: readonly Define[]): string {
  return list.map((d) => `/* ${d.comment} */\n#define ${d.name} ${d.value}`).join('\n');
}

/** The text of include/tld_reader.h. */
export function renderReaderHeader(): string {
  return `/* Generated by @tld/bpf-programs from src/ctx-layout.ts. DO NOT EDIT: run \`${READER_HEADER_COMMAND}\`. */
/* SPDX-License-Identifier: MIT */
/*
 * Context layouts of the SEC("syscall") programs in src/, shared by the BPF side and by whoever runs them with
 * BPF_PROG_TEST_RUN (ctx_in = ctx_out = one of these structs), and the record the task iterator writes. All fields
 * are naturally aligned: syscall programs may only access ctx at multiples of the access size.
 */
#ifndef __TLD_READER_H
#define __TLD_READER_H

#include "tld_layout.h"

${renderDefines(defines)}
${stringDefines.map((d) => `/* ${d.comment} */\n#define ${d.name} ${JSON.stringify(d.value)}`).join('\n')}

/* tld_reader_ctx.status bits */
${bits('TLD_READER_', ReaderStatus)}

/* tld_cached_ctx.found bits */
${bits('TLD_CACHED_FOUND_', { REQ_ID: CachedFound.REQ_ID, ROUTE: CachedFound.ROUTE })}

/* tld_reader.bpf.c: program "tld_read" reads up to TLD_READER_MAX_KEYS run-time key names. */
${renderStruct(readerKey)}
${renderStruct(readerCtx)}
/* tld_cached.bpf.c: program "tld_read_cached" uses tld_get_data() with two fixed keys. */
${renderStruct(cachedCtx)}
/* tld_bench.bpf.c (benchmarks): tld_bench_* time reads in the kernel; tld_trace_* time a thread's system calls. */
${bits('TLD_TRACE_', TraceStep)}
${renderStruct(benchCtx)}
${renderStruct(traceCtx)}
/* tld_iter.bpf.c: program "tld_iter" (iter.s/task) writes one record per task with an element in tld_data_map,
 * then meta_bytes of the task's metadata page, data_bytes of its data page and ctx_bytes of the values area of
 * the record of the run() the task is in (the walk of tld.bpf.h). */
${renderStruct(iterRecord)}
/* tld_context.bpf.c: "tld_read_context" (and "tld_read_context_task", through tld_get_context_data_task()) reads
 * four fixed keys through tld_get_context_data() on the calling thread;
 * the sampler programs record readings of a process's threads into tld_context_samples. */
${bits('TLD_CONTEXT_SAMPLE_', ContextSampleKind)}
${renderStruct(contextValues)}
${renderStruct(contextCtx)}
${renderStruct(contextSample)}
${renderStruct(contextConfig)}
/* tld_lifecycle.bpf.c: program "tld_lifecycle_stats" reports the counters of the lifecycle watchers. */
${renderStruct(lifecycleCtx)}
#endif /* __TLD_READER_H */
`;
}
