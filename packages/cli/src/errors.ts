// The codes tld raises itself, in one table (README "Errors" lists them with the library's). A CliError is a
// TldError of @tld/protocol, so callers of the library and of the CLI catch one kind of error.
import { SystemErrorCode, TldError } from '@tld/protocol';

/** Codes raised by the tld command (the library's, e.g. ERR_TLD_MAP_TYPE, pass through unchanged). */
export const CliErrorCode = {
  /** Nothing is pinned at the path. */
  NO_MAP: 'ERR_TLD_NO_MAP',
  /** Not root and without CAP_BPF, or the pin's mode keeps this user out. */
  PERMISSION: 'ERR_TLD_PERMISSION',
  /** The pin's directory is not on bpffs. */
  NO_BPFFS: 'ERR_TLD_NO_BPFFS',
  /** `map rm` of a pin that is not a task-local-data map. */
  NOT_TLD_MAP: 'ERR_TLD_NOT_TLD_MAP',
  /** `map create` where another object is pinned. */
  PIN_TAKEN: 'ERR_TLD_PIN_TAKEN',
  /** The pin path is a directory. */
  PIN_IS_DIRECTORY: 'ERR_TLD_PIN_IS_DIRECTORY',
  /** `map create --mode` with group bits and no `--group`. */
  MODE_NEEDS_GROUP: 'ERR_TLD_MODE_NEEDS_GROUP',
  /** `top`/`profile`: no registered thread of the chosen processes has the key to group by. */
  PROFILE_NO_KEY: 'ERR_TLD_PROFILE_NO_KEY',
  /** `top`/`profile` on a map with 24-byte values. */
  PROFILE_MAP_VALUE: 'ERR_TLD_PROFILE_MAP_VALUE',
  /** A failure tld has no code for: a bug to report, printed with its stack. */
  INTERNAL: 'ERR_TLD_INTERNAL',
  /** `map create` over a pin whose task-storage map has another value size. */
  VALUE_SIZE: 'ERR_TLD_VALUE_SIZE',
  /** A failed syscall without a more specific code. */
  SYSCALL: SystemErrorCode.SYSCALL,
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** A failure the CLI itself detects, with a code from CliErrorCode. */
export class CliError extends TldError<CliErrorCode> {
  override name = 'CliError';
}
