// Errors of @tld/userspace. Every one is a TldError (from @tld/protocol) with a stable `code`; the message names
// the cause and the fix. Errors that come from a failed syscall carry the BpfSyscallError as `cause`.
import { BpfSyscallError, NotSupportedError, SystemErrorCode, TldError, VALUE_TYPES } from '@tld/protocol';

export { BpfSyscallError, NotSupportedError };

/** Codes raised by @tld/userspace (in addition to @tld/protocol's ProtocolErrorCode). */
export const UserspaceErrorCode = {
  /** The pin path's directory is not on a bpffs mount. */
  NO_BPFFS: 'ERR_TLD_NO_BPFFS',
  /** Nothing is pinned at the pin path. */
  NO_MAP: 'ERR_TLD_NO_MAP',
  /** bpf() or the pin refused access (EPERM/EACCES). */
  PERMISSION: 'ERR_TLD_PERMISSION',
  /**
   * The pin path goes through a symlink or a directory that another user owns, or a directory others can write:
   * they could swap the pin.
   */
  UNSAFE_PIN_PATH: 'ERR_TLD_UNSAFE_PIN_PATH',
  /** The object is not a BPF_MAP_TYPE_TASK_STORAGE map. */
  MAP_TYPE: 'ERR_TLD_MAP_TYPE',
  /** The map's value size is not a task-local-data map value (16 or 24 bytes). */
  VALUE_SIZE: 'ERR_TLD_VALUE_SIZE',
  /** `mapFd` is not an open BPF map file descriptor. */
  BAD_FD: 'ERR_TLD_BAD_FD',
  /** The TaskLocalData (or one of its keys) was used after close(). */
  CLOSED: 'ERR_TLD_CLOSED',
  /**
   * The thread already has an element in the map that another library made with pages this process does not
   * share with @tld/userspace (a native library loaded RTLD_LOCAL before it): open() does not replace it.
   */
  FOREIGN_REGISTRATION: 'ERR_TLD_FOREIGN_REGISTRATION',
  /** An options object with a property the function does not know, e.g. a misspelt name (TypeError). */
  UNKNOWN_OPTION: 'ERR_TLD_UNKNOWN_OPTION',
  /** An argument of the wrong type (TypeError), as Node's own APIs report it. */
  INVALID_ARG_TYPE: 'ERR_INVALID_ARG_TYPE',
  /** An argument of the right type with a value that is never valid, e.g. a string containing NUL (TypeError). */
  INVALID_ARG_VALUE: 'ERR_INVALID_ARG_VALUE',
  /** A number or length outside the range the key holds (RangeError). */
  OUT_OF_RANGE: 'ERR_OUT_OF_RANGE',
  /** run() named a key this TaskLocalData has not created. */
  UNKNOWN_KEY: 'ERR_TLD_UNKNOWN_KEY',
  /**
   * open({ asyncContext: 'walk' }) where the async-context walk cannot work on this thread (no AsyncContextFrame,
   * no addon build for this Node ABI, or a V8 fact that did not verify); the message says which.
   */
  NO_WALK: 'ERR_TLD_NO_WALK',
  /** A syscall failed for a reason without a more specific code (BpfSyscallError). */
  SYSCALL: SystemErrorCode.SYSCALL,
  /** The running kernel or the map lacks a feature the library needs (NotSupportedError). */
  NOT_SUPPORTED: SystemErrorCode.NOT_SUPPORTED,
} as const;
export type UserspaceErrorCode = (typeof UserspaceErrorCode)[keyof typeof UserspaceErrorCode];

/** A TypeError with a stable `code`, like the argument errors of Node's own APIs. */
export class TldTypeError extends TypeError {
  readonly code:
    | typeof UserspaceErrorCode.INVALID_ARG_TYPE
    | typeof UserspaceErrorCode.INVALID_ARG_VALUE
    | typeof UserspaceErrorCode.UNKNOWN_OPTION;

  constructor(code: TldTypeError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A RangeError with the stable code ERR_OUT_OF_RANGE. */
export class TldRangeError extends RangeError {
  readonly code = UserspaceErrorCode.OUT_OF_RANGE;
}

/** ERR_INVALID_ARG_TYPE: `message` says what was expected. */
export function invalidArgType(message: string): TldTypeError {
  return new TldTypeError(UserspaceErrorCode.INVALID_ARG_TYPE, message);
}

/** ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(message: string, cause?: unknown): TldTypeError {
  return new TldTypeError(UserspaceErrorCode.INVALID_ARG_VALUE, message, cause === undefined ? undefined : { cause });
}

/** ERR_TLD_UNKNOWN_OPTION. */
export function unknownOption(message: string): TldTypeError {
  return new TldTypeError(UserspaceErrorCode.UNKNOWN_OPTION, message);
}

/** ERR_OUT_OF_RANGE. */
export function outOfRange(message: string): TldRangeError {
  return new TldRangeError(message);
}

/** Shape of the errors the native addon throws for a failed syscall. */
interface NativeSyscallError extends Error {
  syscall: string;
  errno: number;
  code: string;
}

function isNativeSyscallError(error: unknown): error is NativeSyscallError {
  return (
    error instanceof Error &&
    typeof (error as Partial<NativeSyscallError>).syscall === 'string' &&
    typeof (error as Partial<NativeSyscallError>).errno === 'number'
  );
}

/**
 * Turns an error thrown by the native addon into a BpfSyscallError (with `context` leading the message);
 * other errors are returned unchanged.
 */
export function syscallError(error: unknown, context?: string): unknown {
  if (!isNativeSyscallError(error)) return error;
  const base = `${error.syscall} failed with ${error.code} (errno ${error.errno})`;
  return new BpfSyscallError(error.syscall, error.errno, error.code, context ? `${context}: ${base}` : base, {
    cause: error,
  });
}

/** What a bad argument was, for messages: its type, with null and arrays told apart from objects. */
export function describeValue(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** The error for use after close(). */
export function closedError(what: string): TldError<typeof UserspaceErrorCode.CLOSED> {
  return new TldError(
    UserspaceErrorCode.CLOSED,
    `${what} was used after TaskLocalData.close(): open a new TaskLocalData with TaskLocalData.open() and get the key again ` +
      "(the thread's registration and page stay until the thread exits, so reopening is cheap)",
  );
}

/** The key methods besides u64(), for messages: @tld/protocol's table of value types. */
const OTHER_TYPES = Object.keys(VALUE_TYPES)
  .filter((t) => t !== 'u64')
  .join(', ');

/** The error for a key name run() was given that `known` (this TaskLocalData's key names) lacks. */
export function unknownKeyError(
  name: string,
  known: readonly string[],
): TldError<typeof UserspaceErrorCode.UNKNOWN_KEY> {
  const have = known.length === 0 ? 'it has no keys yet' : `it has ${known.map((k) => JSON.stringify(k)).join(', ')}`;
  return new TldError(
    UserspaceErrorCode.UNKNOWN_KEY,
    `run(): no key named ${JSON.stringify(name)} in this TaskLocalData (${have}): create the key first with ` +
      `tld.u64(${JSON.stringify(name)}) (or ${OTHER_TYPES}), then give its value to run()`,
  );
}

/** Whether `error` is a BpfSyscallError with one of the errno names `codes` (e.g. 'ENOENT'). */
export function isErrno(error: unknown, ...codes: string[]): error is BpfSyscallError {
  return error instanceof BpfSyscallError && codes.includes(error.errnoCode);
}

/** The error for open({ asyncContext: 'walk' }) where the walk is unavailable; `reason` says why. */
export function noWalkError(reason: string): TldError<typeof UserspaceErrorCode.NO_WALK> {
  return new TldError(
    UserspaceErrorCode.NO_WALK,
    `open({ asyncContext: 'walk' }): the async-context walk is not available on this thread: ${reason}. ` +
      "Use asyncContext: 'auto' (the walk where available, else the page mechanism) or 'page'",
  );
}
