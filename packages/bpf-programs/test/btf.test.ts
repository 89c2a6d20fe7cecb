// The kernel only pins user pages for fields whose BTF is a pointer -> TYPE_TAG "uptr" -> a complete struct.
// clang emits the pointee as a forward declaration unless something names it (tld.bpf.h's tld_uptr_dummy).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { objectPaths } from '../src/index.js';

interface BtfType { id: number; kind: string; name: string; type_id?: number; size?: number;
  members?: { name: string; type_id: number }[] }

function btf(path: string): Map<number, BtfType> {
  const out = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', path], { encoding: 'utf8' })) as
    { types: BtfType[] };
  return new Map(out.types.map((t) => [t.id, t]));
}

describe.each([['reader', objectPaths.reader], ['cached', objectPaths.cached]])('BTF of %s object', (_n, path) => {
  it('exists', () => expect(existsSync(path)).toBe(true));

  it('tld_map_value fields are pointers tagged "uptr" to complete structs', () => {
    const types = btf(path);
    const value = [...types.values()].find((t) => t.kind === 'STRUCT' && t.name === 'tld_map_value');
    expect(value?.size).toBe(16);
    const pointees = value!.members!.map((m) => {
      const ptr = types.get(m.type_id)!;
      expect(ptr.kind).toBe('PTR');
      const tag = types.get(ptr.type_id!)!;
      expect({ kind: tag.kind, name: tag.name }).toEqual({ kind: 'TYPE_TAG', name: 'uptr' });
      const target = types.get(tag.type_id!)!;
      return { field: m.name, kind: target.kind, name: target.name, size: target.size };
    });
    expect(pointees).toEqual([
      { field: 'data', kind: 'STRUCT', name: 'tld_data_u', size: 4096 },
      { field: 'meta', kind: 'STRUCT', name: 'tld_meta_u', size: 4036 },
    ]);
  });
});
