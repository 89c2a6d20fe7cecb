// The two map layouts a pin can hold (PROTOCOL.md §7). libbpf reuses a pinned map only when the value size a
// program declares matches, so which one a pin is decides which BPF programs can share it.
import { InvalidArgumentError } from 'commander';

export type ValueSize = 16 | 24;

/**
 * 16 by default: the Linux 6.18 selftest header declares it, and so does tld.bpf.h, which every program of this
 * project (the readers, `tld dump`'s iterator aside) and every program built against it is compiled with.
 */
export const DEFAULT_VALUE_SIZE: ValueSize = 16;

export interface MapLayout {
  readonly valueSize: ValueSize;
  /** Stable name for --json. */
  readonly revision: 'selftests-6.18' | 'start-in-value';
  /** For people. */
  readonly description: string;
}

const LAYOUTS: Readonly<Record<ValueSize, MapLayout>> = Object.freeze({
  16: {
    valueSize: 16,
    revision: 'selftests-6.18',
    description: '16-byte value { data, meta }: the Linux 6.18 selftest revision (start in the data page)',
  },
  24: {
    valueSize: 24,
    revision: 'start-in-value',
    description: '24-byte value { data, meta, start }: the later upstream revision (start in the value)',
  },
});

/** The layout of a map of `valueSize`-byte values (inspectPinnedMap() has already refused other sizes). */
export function layoutOf(valueSize: number): MapLayout {
  return valueSize === 24 ? LAYOUTS[24] : LAYOUTS[16];
}

export function parseValueSize(value: string): ValueSize {
  if (value === '16' || value === '24') return Number(value) as ValueSize;
  throw new InvalidArgumentError(
    'give 16 (the Linux 6.18 selftest revision, what tld.bpf.h declares) or 24 (the later revision with start in the value)',
  );
}
