// Maps pinned by the loader: mode 0600, shared by a second loader and by TaskLocalData.open({ pinPath }), removed
// by whoever created them, and never reused when incompatible.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { BpfSyscallError, decodeU64 } from '@tld/protocol';
import { DEFAULT_PIN_PATH, loadCachedReader, loadReader } from '@tld/bpf-programs';
import { bpfSupport, fileMode, loadFixtures, uniquePinPath } from '@tld/testkit';

const support = bpfSupport();

describe.skipIf(!support.supported)('pins the loader creates and reuses', () => {
  it('a private reader neither creates nor touches the host pin', () => {
    const before = existsSync(DEFAULT_PIN_PATH);
    const reader = loadReader();
    reader.close();
    expect(reader.createdPins).toEqual([]);
    expect(existsSync(DEFAULT_PIN_PATH)).toBe(before);
  });

  it('the pin the loader creates has mode 0600; a second loader and TaskLocalData share it', () => {
    const pinPath = uniquePinPath('shared');
    const reader = loadReader({ map: { pinPath } });
    try {
      expect(reader.createdPins).toEqual([pinPath]);
      expect(fileMode(pinPath)).toBe(0o600);

      const cached = loadCachedReader({ map: { pinPath } });
      const tld = TaskLocalData.open({ pinPath });
      try {
        tld.u64('req_id').set(31337n);
        expect(decodeU64(reader.read(['req_id']).values['req_id'])).toBe(31337n);
        expect(cached.run().reqId).toBe(31337n); // same map through the reused pin
      } finally {
        tld.close();
        cached.close();
      }
      expect(existsSync(pinPath)).toBe(true); // the reuser does not remove what it did not create
    } finally {
      reader.close();
    }
    expect(existsSync(pinPath)).toBe(false);
  });

  it('the fixture maps are pinned 0600 and close() removes the pins', () => {
    const wrongValueSize = uniquePinPath('wrong-value-size');
    const wrongMapType = uniquePinPath('wrong-map-type');
    const fixtures = loadFixtures({ wrongValueSize, wrongMapType });
    try {
      expect(fixtures.createdPins).toEqual([wrongValueSize, wrongMapType]);
      expect(fileMode(wrongValueSize)).toBe(0o600);
      expect(fileMode(wrongMapType)).toBe(0o600);
    } finally {
      fixtures.close();
    }
    expect(existsSync(wrongValueSize)).toBe(false);
    expect(existsSync(wrongMapType)).toBe(false);
  });

  it("the loader refuses to reuse an incompatible pin, with libbpf's reason in the error, and leaves it", () => {
    const wrongValueSize = uniquePinPath('wrong-value-size');
    const fixtures = loadFixtures({ wrongValueSize });
    try {
      let error: unknown;
      try {
        loadReader({ map: { pinPath: wrongValueSize } }).close();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BpfSyscallError);
      expect((error as BpfSyscallError).log).toMatch(/reuse pinned map/);
      expect((error as BpfSyscallError).message).toContain(wrongValueSize);
      expect(existsSync(wrongValueSize)).toBe(true); // someone else's pin stays
    } finally {
      fixtures.close();
    }
  });
});
