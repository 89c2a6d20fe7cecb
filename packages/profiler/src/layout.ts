// The profiler's shared structs (bpf/tld_profiler.bpf.c), described once. include/tld_profiler.h is rendered from
// these descriptions (gen/write-header.mjs) with the C layout rules of @tld/bpf-programs, and src/ decodes the
// maps with the offsets computed here: no offset is written by hand.
import { REGENERATE_COMMAND, SLOT_NAME_SIZE } from '@tld/protocol';
import {
  type Define,
  type StructLayout,
  at,
  bits,
  define,
  renderDefines,
  renderStruct,
  struct,
} from '@tld/bpf-programs/c-layout';

const defines: Define[] = [
  { name: 'TLD_PROF_MAX_LABELS', value: 4, comment: 'keys a profile is labelled by (--by route,tenant,...)' },
  {
    name: 'TLD_PROF_LABEL_BYTES',
    value: 64,
    comment: 'bytes of each label value copied; a key must start 64 bytes or more before the end of its page',
  },
  {
    name: 'TLD_PROF_NAME_STRIDE',
    value: 64,
    comment: 'bytes per key name in tld_prof_settings.names (TLD_NAME_LEN rounded up, NUL-padded)',
  },
  { name: 'TLD_PROF_NAMES_BYTES', value: 64 * 5, comment: 'the label names, then the request key name' },
  { name: 'TLD_PROF_LABELS_BYTES', value: 64 * 4, comment: 'TLD_PROF_MAX_LABELS values of TLD_PROF_LABEL_BYTES' },
  { name: 'TLD_PROF_REQUEST_SLOT', value: 4, comment: 'index of the request key name in tld_prof_settings.names' },
  { name: 'TLD_PROF_MAX_BUCKETS', value: 16384, comment: 'entries of the bucket map; more count as MAP_FULL' },
  { name: 'TLD_PROF_MAX_TARGETS', value: 64, comment: 'processes one load can follow by pid' },
  { name: 'TLD_PROF_STACK_DEPTH', value: 127, comment: 'frames per stack (the kernel default perf_event_max_stack)' },
  { name: 'TLD_PROF_MAX_STACKS', value: 16384, comment: 'entries of the stack trace map' },
];

if (SLOT_NAME_SIZE > define('TLD_PROF_NAME_STRIDE', defines)) throw new Error('TLD_PROF_NAME_STRIDE < TLD_NAME_LEN');

/** tld_prof_key.state: what the thread had published when BPF looked. */
export const BucketState = Object.freeze({
  /** registered and serving a request (or no request key named): the labels hold its values */
  SET: 0x1,
  /** a request key is named and its value is 0: between requests */
  IDLE: 0x2,
  /** never registered, or the request key does not exist in its process */
  NONE: 0x3,
  /** registered, but its per-task key cache could not be created (-ENOMEM) */
  UNREADABLE: 0x4,
});

/** Indices of the prof_counters array. */
export const ProfCounter = Object.freeze({
  /** pieces of threads already on a CPU when the programs were attached: their start is unknown, not charged */
  UNSTAMPED: 0,
  /** charges dropped because the bucket map was full */
  MAP_FULL: 1,
  /** samples whose user stack could not be stored (stack map full or hash collision) */
  STACK_LOST: 2,
  /** number of counters */
  NR_COUNTERS: 3,
});

const settings = struct(
  'tld_prof_settings',
  [
    {
      name: 'names',
      type: 'char',
      count: 'TLD_PROF_NAMES_BYTES',
      comment: 'label key names, then the request key name',
    },
    {
      name: 'label_size',
      type: '__u32',
      count: 'TLD_PROF_MAX_LABELS',
      comment: 'bytes kept of each label (the rest zeroed)',
    },
    { name: 'nr_labels', type: '__u32', comment: 'labels in use' },
    {
      name: 'request',
      type: '__u32',
      comment: '1: names[TLD_PROF_REQUEST_SLOT] is a u64 request key (0 = between requests)',
    },
    {
      name: 'all_tasks',
      type: '__u32',
      comment: '1: every registered thread on the host; 0: the threads of the pids in prof_targets',
    },
    { name: 'stacks', type: '__u32', comment: '1: samples record user and kernel stack ids' },
  ],
  defines,
);

const bucketKey = struct(
  'tld_prof_key',
  [
    { name: 'tgid', type: '__u32', comment: 'process of the thread' },
    { name: 'state', type: '__u32', comment: 'TLD_PROF_STATE_* value' },
    {
      name: 'user_stack',
      type: '__s32',
      comment: 'stack id in prof_stacks, negative errno when none (not sampling stacks: -1)',
    },
    { name: 'kernel_stack', type: '__s32', comment: 'same for the kernel stack' },
    { name: 'present', type: '__u32', comment: 'bit i: label i was found in the thread' },
    { name: '__pad', type: '__u32' },
    {
      name: 'labels',
      type: '__u8',
      count: 'TLD_PROF_LABELS_BYTES',
      comment: 'label i at i * TLD_PROF_LABEL_BYTES, zero-padded',
    },
  ],
  defines,
);

const stats = struct(
  'tld_prof_stats',
  [
    { name: 'cpu_ns', type: '__u64', comment: 'on-CPU time charged at switch-out and at syscalls (ktime)' },
    { name: 'pieces', type: '__u64', comment: 'pieces of on-CPU time charged' },
    { name: 'samples', type: '__u64', comment: 'CPU-clock perf_event samples that found the thread running' },
    {
      name: 'requests',
      type: '__u64',
      comment: 'request values seen that the thread was not seen with among its last 8',
    },
  ],
  defines,
);

/** The profiler's layouts (include/tld_profiler.h), as offsets. */
export const ProfLayout = Object.freeze({
  maxLabels: define('TLD_PROF_MAX_LABELS', defines),
  labelBytes: define('TLD_PROF_LABEL_BYTES', defines),
  nameStride: define('TLD_PROF_NAME_STRIDE', defines),
  requestSlot: define('TLD_PROF_REQUEST_SLOT', defines),
  maxTargets: define('TLD_PROF_MAX_TARGETS', defines),
  stackDepth: define('TLD_PROF_STACK_DEPTH', defines),
  settings: Object.freeze({
    size: settings.size,
    namesOffset: at(settings, 'names'),
    labelSizeOffset: at(settings, 'label_size'),
    nrLabelsOffset: at(settings, 'nr_labels'),
    requestOffset: at(settings, 'request'),
    allTasksOffset: at(settings, 'all_tasks'),
    stacksOffset: at(settings, 'stacks'),
  }),
  key: Object.freeze({
    size: bucketKey.size,
    tgidOffset: at(bucketKey, 'tgid'),
    stateOffset: at(bucketKey, 'state'),
    userStackOffset: at(bucketKey, 'user_stack'),
    kernelStackOffset: at(bucketKey, 'kernel_stack'),
    presentOffset: at(bucketKey, 'present'),
    labelsOffset: at(bucketKey, 'labels'),
  }),
  stats: Object.freeze({
    size: stats.size,
    cpuNsOffset: at(stats, 'cpu_ns'),
    piecesOffset: at(stats, 'pieces'),
    samplesOffset: at(stats, 'samples'),
    requestsOffset: at(stats, 'requests'),
  }),
});

/** The structs of include/tld_profiler.h (for the layout tests). */
export const profStructs: readonly StructLayout[] = Object.freeze([settings, bucketKey, stats]);

/** The command that regenerates include/tld_profiler.h (the workspace's one `gen`). */
export const HEADER_COMMAND = REGENERATE_COMMAND;

/** The text of include/tld_profiler.h. */
export function renderProfilerHeader(): string {
  return `/* Generated by @tld/profiler from src/layout.ts. DO NOT EDIT: run \`${HEADER_COMMAND}\`. */
/* SPDX-License-Identifier: MIT */
/*
 * Structs of the profiler (bpf/tld_profiler.bpf.c), shared by the BPF side and by the user space that configures
 * and reads it (src/programs.ts).
 */
#ifndef __TLD_PROFILER_H
#define __TLD_PROFILER_H

#include "tld_layout.h"

${renderDefines(defines)}

/* tld_prof_key.state */
${bits('TLD_PROF_STATE_', BucketState)}

/* indices of prof_counters */
${bits('TLD_PROF_', ProfCounter)}

/* tld_prof_settings: section .rodata.settings, written by user space before the load (key names must be constants
 * of a frozen map for bpf_strncmp) */
${renderStruct(settings)}
/* tld_prof_key / tld_prof_stats: key and value of the hash map prof_buckets */
${renderStruct(bucketKey)}
${renderStruct(stats)}
#endif /* __TLD_PROFILER_H */
`;
}
