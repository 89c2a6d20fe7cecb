// Argument checks of the loader that need no kernel, and the staleness of the generated reader header.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfSyscallError } from '@tld/protocol';
import { READER_HEADER_COMMAND, loadObject, mapUpdateElem, renderReaderHeader, unpin } from '../src/index.js';

describe('loader arguments', () => {
  it('a missing object file is a BpfSyscallError (ENOENT) that names the file', () => {
    let error: unknown;
    try {
      loadObject('/nonexistent/x.bpf.o');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BpfSyscallError);
    expect(error).toMatchObject({ errnoCode: 'ENOENT', code: 'ERR_TLD_SYSCALL' });
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
  });
});

describe('include/tld_reader.h', () => {
  it(`is what src/ctx-layout.ts renders (regenerate with \`${READER_HEADER_COMMAND}\`)`, () => {
    const committed = readFileSync(new URL('../include/tld_reader.h', import.meta.url), 'utf8');
    expect(committed).toBe(renderReaderHeader());
  });
});
