export { TaskLocalData } from './task-local-data.js';
export type { OpenOptions, KeyDescription, RunValues, StringKeyOptions } from './task-local-data.js';
export { asyncContextMechanism } from './async-context.js';
export type { AsyncContextMechanism } from './async-context.js';
export { Key, U64Key, I64Key, U32Key, F64Key, StringKey, BytesKey } from './keys.js';
export type { StringSetOptions } from './keys.js';
export { UserspaceErrorCode, BpfSyscallError, NotSupportedError } from './errors.js';
export { TldError, ProtocolErrorCode, DEFAULT_PIN_PATH } from '@tld/protocol';
