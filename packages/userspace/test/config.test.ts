// TLD_PIN: the pin open() and inspectPinnedMap() use when none is given. Explicit options win; a malformed value
// is an argument error even with ifUnavailable: 'noop' (a typo must not quietly turn publishing off).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PIN_PATH, TaskLocalData, defaultPinPath, inspectPinnedMap } from '../src/index.js';
import { type PinnedMaps, codeOf, loadFixtureMaps } from './fixture.js';

const saved = process.env.TLD_PIN;

describe('TLD_PIN', () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());
  afterEach(() => {
    if (saved === undefined) delete process.env.TLD_PIN;
    else process.env.TLD_PIN = saved;
  });

  it('defaultPinPath(): the variable when set, else the default; a relative or empty value is refused', () => {
    expect(defaultPinPath({})).toBe(DEFAULT_PIN_PATH);
    expect(defaultPinPath({ TLD_PIN: '/sys/fs/bpf/app/tld_data_map' })).toBe('/sys/fs/bpf/app/tld_data_map');
    for (const bad of ['', 'tld_data_map', '/sys/fs/bpf/']) {
      expect(codeOf(() => defaultPinPath({ TLD_PIN: bad }))).toBe('ERR_INVALID_ARG_VALUE');
    }
    expect(() => defaultPinPath({ TLD_PIN: 'x' })).toThrow(/TLD_PIN="x" is not an absolute file path/);
  });

  it('open() and inspectPinnedMap() use the map TLD_PIN names', () => {
    const pin = maps.pin('tld_data_map');
    const { id } = inspectPinnedMap(pin);
    process.env.TLD_PIN = pin;
    expect(inspectPinnedMap().id).toBe(id);
    const tld = TaskLocalData.open();
    expect(tld.mapId).toBe(id);
    tld.close();
  });

  it('an explicit pinPath or mapFd wins over TLD_PIN', () => {
    const pin = maps.pin('tld_data_map');
    const v2 = maps.pin('tld_data_map_v2');
    process.env.TLD_PIN = '/sys/fs/bpf/tld_nothing_pinned_here';
    const tld = TaskLocalData.open({ pinPath: v2 });
    expect(tld.mapId).toBe(inspectPinnedMap(v2).id);
    expect(tld.valueSize).toBe(24);
    tld.close();
    // Even a malformed TLD_PIN is not read when the caller says which map.
    process.env.TLD_PIN = 'relative';
    expect(TaskLocalData.open({ pinPath: pin }).mapId).toBe(inspectPinnedMap(pin).id);
  });

  it("a malformed TLD_PIN throws ERR_INVALID_ARG_VALUE, also with ifUnavailable: 'noop'", () => {
    process.env.TLD_PIN = 'tld_data_map';
    expect(codeOf(() => TaskLocalData.open())).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => TaskLocalData.open({ ifUnavailable: 'noop' }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => inspectPinnedMap())).toBe('ERR_INVALID_ARG_VALUE');
  });
});
