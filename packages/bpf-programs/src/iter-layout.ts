// The record the task iterator writes (bpf/tld_iter.bpf.c), described once: include/tld_reader.h declares it
// (reader-header.ts) and iter.ts decodes records with the offsets computed here.
import { type Define, at, define, struct } from './ctx-layout.js';

export const iterDefines: readonly Define[] = [
  { name: 'TLD_ITER_COMM_BYTES', value: 16, comment: 'TASK_COMM_LEN: bytes of task->comm in an iterator record' },
  {
    name: 'TLD_ITER_PRESENT_BYTES',
    value: 64,
    comment: "bytes of a run record's presence bitmap in an iterator record",
  },
];

/**
 * tld_iter.bpf.c writes one record per task with an element in tld_data_map: this header, then meta_bytes bytes
 * of the metadata page and data_bytes bytes of the data page (each 0 when that pointer is NULL), then ctx_bytes
 * bytes of the values area of the record of the run() the task is in (the walk of tld.bpf.h).
 */
export const iterRecord = struct(
  'tld_iter_record',
  [
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
    {
      name: 'ctx_status',
      type: '__s32',
      comment: "the walk to the task's current run(): TLD_FROM_* or a negative errno",
    },
    { name: 'ctx_bytes', type: '__u32', comment: "bytes of the run record's values area that follow the data page" },
    { name: '__pad', type: '__u32' },
    { name: 'ctx_present', type: '__u8', count: 'TLD_ITER_PRESENT_BYTES', comment: "the run record's presence bitmap" },
  ],
  iterDefines,
);

/** struct tld_iter_record (include/tld_reader.h), as offsets. */
export const IterRecordLayout = Object.freeze({
  size: iterRecord.size,
  commBytes: define('TLD_ITER_COMM_BYTES', iterDefines),
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
  presentBytes: define('TLD_ITER_PRESENT_BYTES', iterDefines),
});

/** Where tld_get_context_data() (tld.bpf.h) took a value from: its non-negative results. */
export const ContextFrom = Object.freeze({ PAGE: 0, CONTEXT: 1 });
