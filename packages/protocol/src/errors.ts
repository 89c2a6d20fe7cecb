/**
 * Every failure of the project, identified by a stable `code` (the message may change; the code won't).
 * The message says what went wrong and how to fix it. Other packages extend the set of codes.
 */
export class TldError<Code extends string = string> extends Error {
  override name = 'TldError';
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Codes raised by @tld/protocol. */
export const ProtocolErrorCode = {
  /** Key name is the empty string. */
  NAME_EMPTY: 'ERR_TLD_NAME_EMPTY',
  /** Key name is longer than 61 UTF-8 bytes. */
  NAME_TOO_LONG: 'ERR_TLD_NAME_TOO_LONG',
  /** Key name contains a NUL character. */
  NAME_HAS_NUL: 'ERR_TLD_NAME_HAS_NUL',
  /** Value size is not an integer in 1 .. P − 8. */
  SIZE_INVALID: 'ERR_TLD_SIZE_INVALID',
  /** The value does not fit in the bytes left for dynamic keys (meta.size). */
  TOO_BIG: 'ERR_TLD_TOO_BIG',
  /** All metadata slots are claimed. */
  NO_SPACE: 'ERR_TLD_NO_SPACE',
  /** The name exists with another size. */
  SIZE_MISMATCH: 'ERR_TLD_SIZE_MISMATCH',
  /** A slot was claimed but its creator never published its size. */
  SLOT_NEVER_PUBLISHED: 'ERR_TLD_SLOT_NEVER_PUBLISHED',
  /** A map value of a size other than 16 or 24 bytes, or a page that is not a valid metadata page. */
  BAD_LAYOUT: 'ERR_TLD_BAD_LAYOUT',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** Codes of the two errors every package that talks to the kernel shares. */
export const SystemErrorCode = {
  /** A syscall failed for a reason without a more specific code. */
  SYSCALL: 'ERR_TLD_SYSCALL',
  /** The running kernel, the map or the process lacks a feature. */
  NOT_SUPPORTED: 'ERR_TLD_NOT_SUPPORTED',
} as const;
export type SystemErrorCode = (typeof SystemErrorCode)[keyof typeof SystemErrorCode];

/**
 * A syscall (or a bpf() command, or a libbpf call) that failed: which one, its errno and the errno's name.
 * `log` carries what libbpf printed during the call (the verifier's output included), or '' when there is none.
 */
export class BpfSyscallError extends TldError<typeof SystemErrorCode.SYSCALL> {
  override name = 'BpfSyscallError';
  /** The syscall, bpf() command or libbpf function, e.g. 'BPF_OBJ_GET', 'pidfd_open', 'bpf_object__load'. */
  readonly syscall: string;
  /** Positive errno. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'EPERM'. */
  readonly errnoCode: string;
  readonly log: string;

  constructor(
    syscall: string,
    errno: number,
    errnoCode: string,
    message?: string,
    options?: { cause?: unknown; log?: string },
  ) {
    super(SystemErrorCode.SYSCALL, message ?? `${syscall} failed with ${errnoCode} (errno ${errno})`, options);
    this.syscall = syscall;
    this.errno = errno;
    this.errnoCode = errnoCode;
    this.log = options?.log ?? '';
  }
}

/**
 * The kernel, the map's BTF or the process lacks `feature`; `minKernel` is the first Linux release with it, or
 * undefined when no kernel version helps (e.g. missing privileges).
 */
export class NotSupportedError extends TldError<typeof SystemErrorCode.NOT_SUPPORTED> {
  override name = 'NotSupportedError';
  readonly feature: string;
  readonly minKernel: string | undefined;

  constructor(feature: string, minKernel: string | undefined, message: string, options?: { cause?: unknown }) {
    super(SystemErrorCode.NOT_SUPPORTED, message, options);
    this.feature = feature;
    this.minKernel = minKernel;
  }
}
