// The map layouts a pin can hold (PROTOCOL.md §7): @tld/protocol's MAP_VALUE_REVISIONS. libbpf reuses a pinned map
// only when the value size a program declares matches, so which one a pin is decides which BPF programs can share it.
import { InvalidArgumentError } from 'commander';
import { MAP_VALUE_REVISIONS, type MapValueSize, mapValueRevision } from '@tld/protocol';

export type ValueSize = MapValueSize;

/**
 * 16 by default: the Linux 6.18 selftest header declares it, and so does tld.bpf.h, which every program of this
 * project (the readers, `tld dump`'s iterator aside) and every program built against it is compiled with.
 */
export const DEFAULT_VALUE_SIZE: ValueSize = MAP_VALUE_REVISIONS[0].size;

export interface MapLayout {
  readonly valueSize: ValueSize;
  /** Stable name for --json. */
  readonly revision: (typeof MAP_VALUE_REVISIONS)[number]['name'];
  /** For people. */
  readonly description: string;
}

/** The layout of a map of `valueSize`-byte values (inspectPinnedMap() has already refused other sizes). */
export function layoutOf(valueSize: number): MapLayout {
  const { size, name, description } = mapValueRevision(valueSize) ?? MAP_VALUE_REVISIONS[0];
  return { valueSize: size as ValueSize, revision: name as MapLayout['revision'], description };
}

export function parseValueSize(value: string): ValueSize {
  const revision = MAP_VALUE_REVISIONS.find((r) => String(r.size) === value);
  if (revision !== undefined) return revision.size;
  throw new InvalidArgumentError(`give ${MAP_VALUE_REVISIONS.map((r) => `${r.size} (${r.description})`).join(' or ')}`);
}
