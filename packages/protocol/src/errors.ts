/**
 * Every failure of the protocol layer, identified by a stable `code` (the message may change; the code won't).
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
