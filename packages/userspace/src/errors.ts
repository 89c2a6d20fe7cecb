// Errors of @tld/userspace. Every one is a TldError (from @tld/protocol) with a stable `code`; the message names
// the cause and the fix. Errors that come from a failed syscall carry the BpfSyscallError as `cause`.
import { TldError } from '@tld/protocol';

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
  /** A syscall failed for a reason without a more specific code. */
  SYSCALL: 'ERR_TLD_SYSCALL',
  /** The running kernel or the map lacks a feature the library needs. */
  NOT_SUPPORTED: 'ERR_TLD_NOT_SUPPORTED',
} as const;
export type UserspaceErrorCode = (typeof UserspaceErrorCode)[keyof typeof UserspaceErrorCode];

/** A syscall that failed: which one, its errno and the errno's name (e.g. 'ENOENT'). */
export class BpfSyscallError extends TldError<typeof UserspaceErrorCode.SYSCALL> {
  override name = 'BpfSyscallError';
  /** The syscall or bpf() command, e.g. 'BPF_OBJ_GET', 'pidfd_open'. */
  readonly syscall: string;
  readonly errno: number;
  /** Symbolic errno, e.g. 'EPERM'. */
  readonly errnoCode: string;

  constructor(syscall: string, errno: number, errnoCode: string, message?: string) {
    super(UserspaceErrorCode.SYSCALL, message ?? `${syscall} failed with ${errnoCode} (errno ${errno})`);
    this.syscall = syscall;
    this.errno = errno;
    this.errnoCode = errnoCode;
  }
}

/**
 * The kernel, the map's BTF or the process lacks `feature`; `minKernel` is the first Linux release with it, or
 * undefined when no kernel version helps (e.g. missing privileges).
 */
export class NotSupportedError extends TldError<typeof UserspaceErrorCode.NOT_SUPPORTED> {
  override name = 'NotSupportedError';
  readonly feature: string;
  readonly minKernel: string | undefined;

  constructor(feature: string, minKernel: string | undefined, message: string, options?: { cause?: unknown }) {
    super(UserspaceErrorCode.NOT_SUPPORTED, message, options);
    this.feature = feature;
    this.minKernel = minKernel;
  }
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
  return new BpfSyscallError(error.syscall, error.errno, error.code, context ? `${context}: ${base}` : base);
}

/** The error for use after close(). */
export function closedError(what: string): TldError<typeof UserspaceErrorCode.CLOSED> {
  return new TldError(
    UserspaceErrorCode.CLOSED,
    `${what} was used after TaskLocalData.close(): open a new TaskLocalData with TaskLocalData.open() and get the key again`,
  );
}
