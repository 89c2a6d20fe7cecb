// Every error path of TaskLocalData.open() and of the testkit loader, asserting the error code, against real
// kernel objects (the fixture maps of tld_fixtures.bpf.o).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { BpfSyscallError } from '@tld/protocol';
import { loadReader, readOnThisThread, type Reader } from '@tld/bpf-programs';
import { bpfSupport, fileMode, loadFixtures, uniquePinPath, type Fixtures } from '@tld/testkit';

const support = bpfSupport();

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  throw new Error('expected a throw');
}

describe.skipIf(!support.supported)('error paths', () => {
  let fixtures: Fixtures;
  let reader: Reader;
  const wrongValueSizePin = uniquePinPath('wrong-value-size');
  const wrongMapTypePin = uniquePinPath('wrong-map-type');

  beforeAll(() => {
    fixtures = loadFixtures({ wrongValueSize: wrongValueSizePin, wrongMapType: wrongMapTypePin });
    reader = loadReader({ map: 'private' });
  });
  afterAll(() => {
    fixtures?.close();
    reader?.close();
  });

  it('fixture pins were created 0600 and are removed by close()', () => {
    expect(fixtures.createdPins).toEqual([wrongValueSizePin, wrongMapTypePin]);
    expect(fileMode(wrongValueSizePin)).toBe(0o600);
    expect(fileMode(wrongMapTypePin)).toBe(0o600);
  });

  it('ERR_TLD_MAP_TYPE: a hash map, by pin and by fd', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: wrongMapTypePin }))).toBe('ERR_TLD_MAP_TYPE');
    expect(codeOf(() => TaskLocalData.open({ mapFd: fixtures.wrongMapTypeFd }))).toBe('ERR_TLD_MAP_TYPE');
  });

  it('ERR_TLD_VALUE_SIZE: a task-storage map with 32-byte values, by pin and by fd', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: wrongValueSizePin }))).toBe('ERR_TLD_VALUE_SIZE');
    expect(codeOf(() => TaskLocalData.open({ mapFd: fixtures.wrongValueSizeFd }))).toBe('ERR_TLD_VALUE_SIZE');
  });

  it('a failed open registers nothing', () => {
    expect(() => TaskLocalData.open({ mapFd: fixtures.wrongValueSizeFd })).toThrow();
    expect(reader.read(['anything']).registered).toBe(false);
  });

  it('ERR_TLD_NO_MAP: nothing pinned at the path', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: uniquePinPath('absent') }))).toBe('ERR_TLD_NO_MAP');
  });

  it('ERR_TLD_NO_BPFFS: the path is not on a bpffs mount', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: '/tmp/tld_data_map' }))).toBe('ERR_TLD_NO_BPFFS');
  });

  it('ERR_TLD_BAD_FD: an fd that is not a BPF map (a file, a BPF program)', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(codeOf(() => TaskLocalData.open({ mapFd: fd }))).toBe('ERR_TLD_BAD_FD');
    } finally {
      closeSync(fd);
    }
    expect(codeOf(() => TaskLocalData.open({ mapFd: reader.progFd }))).toBe('ERR_TLD_BAD_FD');
  });

  it('ERR_TLD_CLOSED: keys and the instance after close()', () => {
    const tld = TaskLocalData.open({ mapFd: reader.mapFd });
    const key = tld.u64('closed_test');
    tld.close();
    expect(codeOf(() => key.set(1n))).toBe('ERR_TLD_CLOSED');
    expect(codeOf(() => tld.u64('closed_test'))).toBe('ERR_TLD_CLOSED');
  });

  it('ERR_TLD_PERMISSION: an unprivileged user cannot open a 0600 pin', () => {
    const pin = uniquePinPath('perm');
    const own = loadReader({ map: { pinPath: pin } });
    try {
      const script = `
        import { TaskLocalData } from '@tld/userspace';
        try { TaskLocalData.open({ pinPath: ${JSON.stringify(pin)} }); console.log('opened'); }
        catch (e) { console.log(e.code); }`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)), uid: 65534, gid: 65534, encoding: 'utf8',
      });
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('ERR_TLD_PERMISSION');
    } finally {
      own.close();
    }
    expect(existsSync(pin)).toBe(false);
  });

  it('the loader refuses to reuse an incompatible pin, with libbpf\'s reason in the error', () => {
    let error: unknown;
    try {
      loadReader({ map: { pinPath: wrongValueSizePin } }).close();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BpfSyscallError);
    expect((error as BpfSyscallError).code).toBe('ERR_TLD_SYSCALL');
    expect((error as BpfSyscallError).log).toMatch(/reuse pinned map/);
    expect((error as BpfSyscallError).message).toContain(wrongValueSizePin);
    expect(existsSync(wrongValueSizePin)).toBe(true); // someone else's pin stays
  });

  it('the reader rejects bad key names before running BPF', () => {
    expect(() => readOnThisThread(reader.progFd, [''])).toThrow(RangeError);
    expect(() => readOnThisThread(reader.progFd, ['x'.repeat(62)])).toThrow(RangeError);
    expect(() => readOnThisThread(reader.progFd, ['a\0b'])).toThrow(RangeError);
    expect(() => readOnThisThread(reader.progFd, Array.from({ length: 17 }, (_, i) => `k${i}`))).toThrow(RangeError);
    // the longest legal name is accepted
    expect(readOnThisThread(reader.progFd, ['y'.repeat(61)]).values['y'.repeat(61)]).toBeUndefined();
  });
});
