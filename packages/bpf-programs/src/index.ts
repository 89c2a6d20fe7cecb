export { objectPaths, names, iterObjectPath } from './objects.js';
export { includeDirs, headerPath } from './headers.js';
export { ReaderLayout, ReaderStatus, CachedLayout, CachedFound } from './reader-layout.js';
export { ContextFrom, IterRecordLayout } from './iter-layout.js';
export { renderReaderHeader, READER_HEADER_COMMAND } from './reader-header.js';
export type { StructLayout } from './ctx-layout.js';
export {
  loadObject,
  unpin,
  gettid,
  libbpfVersion,
  mapUpdateElem,
  mapDeleteElem,
  MapUpdateFlags,
  testRun,
} from './loader.js';
export type { LoadedBpfObject, LoadOptions, MapPlacement } from './loader.js';
export { MapType, mapInfo, mapLookupElem, mapGetNextKey, mapEntries } from './inspect.js';
export type { MapInfo, BpfLink } from './inspect.js';
export { PerfType, SoftwareEvent, perfEventOpen, parseCpuList, onlineCpus, threadCpuTimeNs } from './perf.js';
export type { PerfEventOptions } from './perf.js';
export { readOnThisThread, loadReader, runCachedOnThisThread, loadCachedReader, CACHED_KEYS } from './readers.js';
export type { KeyReading, ReadResult, Reader, CachedResult, CachedReader } from './readers.js';
export { loadTaskIterator, decodeTaskRecords } from './iter.js';
export type { ContextSource, RegisteredTask, TaskKey, TaskIterator } from './iter.js';
/** Where tld.bpf.h pins tld_data_map (LIBBPF_PIN_BY_NAME under libbpf's default root). */
export { DEFAULT_PIN_PATH, BpfSyscallError } from '@tld/protocol';
