export { TaskLocalData } from './task-local-data.js';
export type { OpenOptions, KeyDescription, StringKeyOptions } from './task-local-data.js';
export { Key, U64Key, I64Key, U32Key, F64Key, StringKey, BytesKey } from './keys.js';
export type { StringSetOptions } from './keys.js';
export { inspectPinnedMap } from './map.js';
export type { PinnedMap } from './map.js';
export { UserspaceErrorCode, BpfSyscallError, NotSupportedError, TldTypeError, TldRangeError } from './errors.js';
export { TldError, ProtocolErrorCode, DEFAULT_PIN_PATH } from '@tld/protocol';
