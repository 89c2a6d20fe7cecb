export { objectPaths, names } from './objects.js';
export { includeDirs, headerPath } from './headers.js';
export {
  ReaderLayout, ReaderStatus, CachedLayout, CachedFound, BenchLayout, TraceLayout, TraceStep,
  IterRecordLayout, LifecycleLayout, renderReaderHeader, READER_HEADER_COMMAND,
} from './ctx-layout.js';
export type { StructLayout, Define, FieldSpec } from './ctx-layout.js';
/** C layout codegen for packages that ship their own BPF programs and headers (e.g. @tld/profiler). */
export { struct, at, define, bits, renderDefines, renderStruct } from './ctx-layout.js';
export {
  loadObject, unpin, gettid, libbpfVersion, mapUpdateElem, mapDeleteElem, MapUpdateFlags, testRun,
} from './loader.js';
export type { LoadedBpfObject, LoadOptions, MapPlacement } from './loader.js';
export { MapType, mapInfo, mapLookupElem, mapGetNextKey, mapEntries } from './inspect.js';
export type { MapInfo, BpfLink } from './inspect.js';
export { PerfType, SoftwareEvent, perfEventOpen, parseCpuList, onlineCpus, threadCpuTimeNs } from './perf.js';
export type { PerfEventOptions } from './perf.js';
export {
  readOnThisThread, loadReader, runCachedOnThisThread, loadCachedReader, CACHED_KEYS,
} from './readers.js';
export type { KeyReading, ReadResult, Reader, CachedResult, CachedReader } from './readers.js';
export { loadTaskIterator, decodeTaskRecords } from './iter.js';
export type { RegisteredTask, TaskKey, TaskIterator } from './iter.js';
export { watchLifecycle } from './lifecycle.js';
export type { LifecycleStats, LifecycleWatch } from './lifecycle.js';
/** Where tld.bpf.h pins tld_data_map (LIBBPF_PIN_BY_NAME under libbpf's default root). */
export { DEFAULT_PIN_PATH, BpfSyscallError } from '@tld/protocol';
export { loadBenchPrograms, runBench, traceOnThisThread, BENCH_KEY_NAMES, BENCH_CONFIGS } from './bench.js';
export type { BenchPrograms, BenchRun, BenchKind, TraceResult } from './bench.js';
