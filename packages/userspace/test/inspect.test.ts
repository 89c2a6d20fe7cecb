// inspectPinnedMap(): the checks of TaskLocalData.open() on a pin, without registering the calling thread.
import { rmSync, statSync } from 'node:fs';
import { TldError } from '@tld/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectPinnedMap } from '../src/index.js';
import { type PinnedMaps, countMapFds, loadFixtureMaps, pinHashMap } from './fixture.js';

/** The error inspectPinnedMap(pin) throws. */
function refusal(pin: string): TldError {
  try {
    inspectPinnedMap(pin);
  } catch (error) {
    if (error instanceof TldError) return error as TldError;
    throw error;
  }
  throw new Error(`inspectPinnedMap(${pin}) did not throw`);
}

describe('inspectPinnedMap', () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('describes a task-local-data map of either value size, and keeps no fd', () => {
    const fds = countMapFds();
    for (const [name, valueSize] of [
      ['tld_data_map', 16],
      ['tld_data_map_v2', 24],
    ] as const) {
      const pin = maps.pin(name);
      const { mode, uid, gid } = statSync(pin);
      const info = inspectPinnedMap(pin);
      expect(info).toEqual({
        pinPath: pin,
        id: info.id,
        name: name.slice(0, 15),
        valueSize,
        mode: mode & 0o777,
        uid,
        gid,
      });
      expect(info.id).toBeGreaterThan(0);
    }
    expect(countMapFds()).toBe(fds);
  });

  it('refuses other maps with the codes TaskLocalData.open() uses', () => {
    const hash = pinHashMap();
    try {
      expect(refusal(hash).code).toBe('ERR_TLD_MAP_TYPE');
    } finally {
      rmSync(hash);
    }
    expect(refusal(maps.pin('small_map')).code).toBe('ERR_TLD_VALUE_SIZE');
    // 16-byte values without uptr tags pass: only registering a thread (open()) can tell.
    expect(inspectPinnedMap(maps.pin('plain_map')).valueSize).toBe(16);
  });

  it('nothing pinned, or a missing directory on bpffs: ERR_TLD_NO_MAP naming `npx tld map create --pin`', () => {
    for (const pin of [`${maps.dir}/absent`, `${maps.dir}/no-such-dir/absent`]) {
      const error = refusal(pin);
      expect(error.code).toBe('ERR_TLD_NO_MAP');
      expect(error.message).toContain(`\`npx tld map create --pin ${pin}\``);
    }
    expect(refusal('/tmp/no-such-dir-tld/pin').code).toBe('ERR_TLD_NO_BPFFS');
  });
});
