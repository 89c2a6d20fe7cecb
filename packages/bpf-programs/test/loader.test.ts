// Argument checks of the loader that need no kernel.
import { describe, expect, it } from 'vitest';
import { BpfSyscallError } from '@tld/protocol';
import {
  loadObject,
  mapEntries,
  mapGetNextKey,
  mapLookupElem,
  mapUpdateElem,
  parseCpuList,
  perfEventOpen,
  readOnThisThread,
  unpin,
} from '../src/index.js';

describe('loader arguments', () => {
  it('a missing object file is a BpfSyscallError (ENOENT) that names the file', () => {
    let error: unknown;
    try {
      loadObject('/nonexistent/x.bpf.o');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BpfSyscallError);
    expect(error).toMatchObject({ errnoCode: 'ENOENT' });
    expect((error as Error).message).toContain('/nonexistent/x.bpf.o');
  });

  it('placements must be private, an absolute pin path or an open map fd', () => {
    expect(() => loadObject('/nonexistent/x.bpf.o', { m: { pinPath: 'relative' } })).toThrow(TypeError);
    expect(() => loadObject('/nonexistent/x.bpf.o', { m: { mapFd: -1 } })).toThrow(TypeError);
    expect(() => loadObject('/nonexistent/x.bpf.o', { m: { mapFd: 1.5 } })).toThrow(TypeError);
  });

  it('unpin refuses paths outside bpffs', () => {
    expect(() => unpin('/tmp/some-file')).toThrow(RangeError);
  });

  it('map element commands check their argument types before the syscall', () => {
    expect(() => mapUpdateElem(-1, new Uint8Array(4), new Uint8Array(16))).toThrow(TypeError);
    expect(() => mapUpdateElem(3, [1, 0, 0, 0] as unknown as Uint8Array, new Uint8Array(16))).toThrow(TypeError);
    expect(() => mapUpdateElem(3, new Uint8Array(4), new Uint8Array(16), 0.5)).toThrow(TypeError);
    expect(() => mapLookupElem(-1, new Uint8Array(4), new Uint8Array(8))).toThrow(TypeError);
    expect(() => mapLookupElem(3, new Uint8Array(4), [0] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => mapGetNextKey(3, 'k' as unknown as Uint8Array, new Uint8Array(4))).toThrow(TypeError);
    expect(() => mapEntries(1.5)).toThrow(TypeError);
  });

  it('perf events are checked before perf_event_open', () => {
    expect(() => perfEventOpen({ sampleFreq: 0, cpu: 0 })).toThrow(RangeError);
    expect(() => perfEventOpen({ sampleFreq: 99, cpu: -1 })).toThrow(TypeError);
    expect(() => perfEventOpen({ sampleFreq: 99, cpu: 0, pid: -2 })).toThrow(TypeError);
  });

  it('CPU lists parse as the kernel writes them', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('0')).toEqual([0]);
    expect(() => parseCpuList('0-')).toThrow(RangeError);
  });
});

describe('reader arguments', () => {
  it('readOnThisThread rejects bad key names before running BPF', () => {
    const noProgram = 1_000_000; // never reached: the names are checked first
    expect(() => readOnThisThread(noProgram, [''])).toThrow(RangeError);
    expect(() => readOnThisThread(noProgram, ['x'.repeat(62)])).toThrow(RangeError);
    expect(() => readOnThisThread(noProgram, ['a\0b'])).toThrow(RangeError);
    expect(() =>
      readOnThisThread(
        noProgram,
        Array.from({ length: 17 }, (_, i) => `k${i}`),
      ),
    ).toThrow(RangeError);
    // A legal name gets as far as the syscall, which fails on the bad fd.
    expect(() => readOnThisThread(noProgram, ['y'.repeat(61)])).toThrow(
      expect.objectContaining({ errnoCode: 'EBADF' }),
    );
  });
});
