export { TaskLocalData } from './task-local-data.js';
export type { OpenOptions, KeyDescription, RunValues, AsyncContextMode } from './task-local-data.js';
export { asyncContextMechanism } from './async-context.js';
export type { AsyncContextMechanism } from './async-context.js';
// Every key class and its options: a new value type's class is exported with the others.
export * from './keys.js';
export { TraceContext } from './trace-context.js';
export { inspectPinnedMap } from './map.js';
export { defaultPinPath, PIN_ENV } from './config.js';
export type { PinnedMap } from './map.js';
export { UserspaceErrorCode, BpfSyscallError, NotSupportedError, TldTypeError, TldRangeError } from './errors.js';
export { TldError, ProtocolErrorCode, DEFAULT_PIN_PATH } from '@tld/protocol';
export type { KeySpec, Schema, SchemaKeys, SchemaValues, TypedTaskLocalData, KeyFor, ValueFor } from './schema.js';
