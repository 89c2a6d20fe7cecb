// Maps that are wrong for tld_data_map in one way each (tld_fixtures.bpf.o), and fresh pin paths for tests.
import { statSync } from 'node:fs';
import { type MapPlacement, loadObject, names, objectPaths } from '@tld/bpf-programs';

/** The error-path fixture maps. */
export interface Fixtures {
  /** Task storage with value_size 32. */
  readonly wrongValueSizeFd: number;
  /** Hash map with value_size 16. */
  readonly wrongMapTypeFd: number;
  /** Pin paths requested through `pins` (removed by close()). */
  readonly createdPins: readonly string[];
  close(): void;
}

/** Loads the error-path fixture maps, optionally pinning them (at fresh paths: uniquePinPath()). */
export function loadFixtures(pins: { wrongValueSize?: string; wrongMapType?: string } = {}): Fixtures {
  const placement: Record<string, MapPlacement> = {};
  if (pins.wrongValueSize) placement[names.wrongValueSizeMap] = { pinPath: pins.wrongValueSize };
  if (pins.wrongMapType) placement[names.wrongMapTypeMap] = { pinPath: pins.wrongMapType };
  const obj = loadObject(objectPaths.fixtures, placement);
  return {
    wrongValueSizeFd: obj.mapFd(names.wrongValueSizeMap),
    wrongMapTypeFd: obj.mapFd(names.wrongMapTypeMap),
    createdPins: obj.createdPins,
    close() {
      obj.dispose();
    },
  };
}

let pinCounter = 0;
/** A fresh path `/sys/fs/bpf/tld-test-<pid>-<n>-<tag>` for a test's own pin (nothing is created). */
export function uniquePinPath(tag = 'map'): string {
  pinCounter += 1;
  return `/sys/fs/bpf/tld-test-${process.pid}-${pinCounter}-${tag.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** A file's permission bits — for asserting pins are 0600. */
export function fileMode(path: string): number {
  return statSync(path).mode & 0o7777;
}
