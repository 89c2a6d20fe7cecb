// Maps that are right or wrong for tld_data_map in one way each (tld_fixtures.bpf.o), and fresh pin paths for
// tests.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type MapPlacement, loadObject } from '@tld/bpf-programs';
import { names, objectPaths } from './objects.js';

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

/** The maps of tld_fixtures.bpf.o that pinFixtureMaps() pins by name. */
export type FixtureMapName =
  'tld_data_map' | 'tld_data_map_v2' | 'plain_map' | 'small_map' | 'wide_map' | 'tld_wrong_map_type';

/** Every map of tld_fixtures.bpf.o pinned in a fresh directory, and its program `noop` pinned in another. */
export interface PinnedMaps {
  /** Directory holding the map pins (its name ends in `_maps`). */
  readonly dir: string;
  /** Directory holding the program pin `noop` (its name ends in `_progs`). */
  readonly progDir: string;
  /** The pin path of map `name`. */
  pin(name: FixtureMapName): string;
  /** Removes both directories. */
  remove(): void;
}

/**
 * Pins every map of tld_fixtures.bpf.o under a fresh directory of /sys/fs/bpf with bpftool (a loader that shares no
 * code with @tld/bpf-programs), mode 0600 like every pin should be. Throws (never skips) when bpftool or the kernel
 * cannot do it.
 */
export function pinFixtureMaps(): PinnedMaps {
  const base = uniquePinPath('fixture');
  const progDir = `${base}_progs`;
  const dir = `${base}_maps`;
  execFileSync('bpftool', ['prog', 'loadall', objectPaths.fixtures, progDir, 'pinmaps', dir], { stdio: 'pipe' });
  // The kernel creates pins 0600 less the umask; set it outright, whatever the umask of the test run.
  for (const d of [progDir, dir]) {
    chmodSync(d, 0o700);
    for (const pin of readdirSync(d)) chmodSync(join(d, pin), 0o600);
  }
  return {
    dir,
    progDir,
    pin: (name) => join(dir, name),
    remove() {
      rmSync(progDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pins a BPF hash map (not task storage) at a fresh path, mode 0600; returns the path. */
export function pinHashMap(): string {
  const path = uniquePinPath('hash');
  execFileSync(
    'bpftool',
    ['map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '1', 'name', 'x'],
    {
      stdio: 'pipe',
    },
  );
  chmodSync(path, 0o600);
  return path;
}
