// Errors of @tld/userspace. Every one is a TldError (from @tld/protocol) with a stable `code`; the message names
// the cause and the fix. Errors that come from a failed syscall carry the BpfSyscallError as `cause`.
import { BpfSyscallError, NotSupportedError, SystemErrorCode, TldError } from '@tld/protocol';

export { BpfSyscallError, NotSupportedError };

/** Codes raised by @tld/userspace (in addition to @tld/protocol's ProtocolErrorCode). */
export const UserspaceErrorCode = {
  /** The pin path's directory is not on a bpffs mount. */
  NO_BPFFS: 'ERR_TLD_NO_BPFFS',
  /** Nothing is pinned at the pin path. */
  NO_MAP: 'ERR_TLD_NO_MAP',
  /** bpf() or the pin refused access (EPERM/EACCES). */
  PERMISSION: 'ERR_TLD_PERMISSION',
  /** The object is not a BPF_MAP_TYPE_TASK_STORAGE map. */
  MAP_TYPE: 'ERR_TLD_MAP_TYPE',
  /** The map's value size is not a task-local-data map value (16 or 24 bytes). */
  VALUE_SIZE: 'ERR_TLD_VALUE_SIZE',
  /** `mapFd` is not an open BPF map file descriptor. */
  BAD_FD: 'ERR_TLD_BAD_FD',
  /** The TaskLocalData (or one of its keys) was used after close(). */
  CLOSED: 'ERR_TLD_CLOSED',
  /** run() named a key this TaskLocalData has not created. */
  UNKNOWN_KEY: 'ERR_TLD_UNKNOWN_KEY',
  /** A syscall failed for a reason without a more specific code (BpfSyscallError). */
  SYSCALL: SystemErrorCode.SYSCALL,
  /** The running kernel or the map lacks a feature the library needs (NotSupportedError). */
  NOT_SUPPORTED: SystemErrorCode.NOT_SUPPORTED,
} as const;
export type UserspaceErrorCode = (typeof UserspaceErrorCode)[keyof typeof UserspaceErrorCode];

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

/** The error for use after close(). */
export function closedError(what: string): TldError<typeof UserspaceErrorCode.CLOSED> {
  return new TldError(
    UserspaceErrorCode.CLOSED,
    `${what} was used after TaskLocalData.close(): open a new TaskLocalData with TaskLocalData.open() and get the key again`,
  );
}

/** The error for a key name run() was given that `known` (this TaskLocalData's key names) lacks. */
export function unknownKeyError(name: string, known: readonly string[]): TldError<typeof UserspaceErrorCode.UNKNOWN_KEY> {
  const have = known.length === 0 ? 'it has no keys yet' : `it has ${known.map((k) => JSON.stringify(k)).join(', ')}`;
  return new TldError(
    UserspaceErrorCode.UNKNOWN_KEY,
    `run(): no key named ${JSON.stringify(name)} in this TaskLocalData (${have}): create the key first with ` +
      `tld.u64(${JSON.stringify(name)}) (or u32, i64, f64, string, bytes), then give its value to run()`,
  );
}

/** Whether `error` is a BpfSyscallError with one of the errno names `codes` (e.g. 'ENOENT'). */
export function isErrno(error: unknown, ...codes: string[]): error is BpfSyscallError {
  return error instanceof BpfSyscallError && codes.includes(error.errnoCode);
}
