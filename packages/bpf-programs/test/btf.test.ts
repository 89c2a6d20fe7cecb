// The kernel only pins user pages for fields whose BTF is a pointer -> TYPE_TAG "uptr" -> a complete struct.
// clang emits the pointee as a forward declaration unless something names it (tld.bpf.h's tld_uptr_dummy), and
// that must hold in every object including the header, and in an object linked from several of them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { includeDirs, objectPaths } from '../src/index.js';
import { btf, compileBpf, struct, type BtfType } from './btf-util.js';

function uptrPointees(types: Map<number, BtfType>) {
  const value = struct(types, 'tld_map_value');
  expect(value.size).toBe(16);
  return value.members!.map((m) => {
    const ptr = types.get(m.type_id)!;
    expect(ptr.kind).toBe('PTR');
    const tag = types.get(ptr.type_id!)!;
    expect({ kind: tag.kind, name: tag.name }).toEqual({ kind: 'TYPE_TAG', name: 'uptr' });
    const target = types.get(tag.type_id!)!;
    return { field: m.name, kind: target.kind, name: target.name, size: target.size };
  });
}

const COMPLETE_POINTEES = [
  { field: 'data', kind: 'STRUCT', name: 'tld_data_u', size: 4096 },
  { field: 'meta', kind: 'STRUCT', name: 'tld_meta_u', size: 4036 },
];

/** Names of the VARs of DATASEC `section`. */
function sectionVars(types: Map<number, BtfType>, section: string): string[] {
  const sec = [...types.values()].find((t) => t.kind === 'DATASEC' && t.name === section);
  return (sec?.vars ?? []).map((v) => types.get(v.type_id)!.name).sort();
}

describe.each([
  ['reader', objectPaths.reader],
  ['cached', objectPaths.cached],
  ['example', objectPaths.example],
])('BTF of %s object', (_n, path) => {
  it('exists', () => expect(existsSync(path)).toBe(true));

  it('tld_map_value fields are pointers tagged "uptr" to complete structs', () => {
    expect(uptrPointees(btf(path))).toEqual(COMPLETE_POINTEES);
  });
});

describe('two compilation units including tld.bpf.h link into one object (bpftool gen object)', () => {
  let dir: string;
  let linked: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tld-link-'));
    linked = join(dir, 'linked.bpf.o');
    // reader has no key map (TLD_NO_KEY_MAP); cached and the example share one struct tld_keys.
    execFileSync('bpftool', ['gen', 'object', linked, objectPaths.reader, objectPaths.cached, objectPaths.example]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps one of each map and of tld_uptr_dummy, and every program', () => {
    const types = btf(linked);
    expect(sectionVars(types, '.maps')).toEqual([
      'events',
      'tld_ctx_scratch',
      'tld_data_map',
      'tld_key_map',
      'tld_key_owner',
    ]);
    expect(sectionVars(types, '.data')).toEqual(['tld_uptr_dummy']);
    const funcs = [...types.values()].filter((t) => t.kind === 'FUNC' && t.linkage === 'global').map((t) => t.name);
    // tld.bpf.h's walk to the current async context is a weak global function: one copy survives the link.
    expect(funcs.sort()).toEqual(['__tld_ctx_locate_current', 'on_sys_enter', 'tld_read', 'tld_read_cached']);
  });

  it('the linked map value still points at complete structs', () => {
    expect(uptrPointees(btf(linked))).toEqual(COMPLETE_POINTEES);
  });

  it('units with different struct tld_keys cannot share tld_key_map: the linker refuses them', () => {
    const src = join(dir, 'other.bpf.c');
    const obj = join(dir, 'other.bpf.o');
    execFileSync('sh', [
      '-c',
      `cat > ${src} <<'EOF'
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tld.bpf.h"
char LICENSE[] SEC("license") = "GPL";
struct tld_keys { tld_key_t other; };
SEC("syscall")
int other_prog(void *ctx)
{
	struct tld_object obj;

	if (tld_object_init(bpf_get_current_task_btf(), &obj))
		return 0;
	return tld_get_data(&obj, other, "other", 8) != 0;
}
EOF`,
    ]);
    const pkg = fileURLToPath(new URL('..', import.meta.url));
    compileBpf(src, obj, [join(pkg, 'build'), ...includeDirs]);
    expect(() =>
      execFileSync('bpftool', ['gen', 'object', join(dir, 'bad.o'), objectPaths.cached, obj], { stdio: 'pipe' }),
    ).toThrow(/tld_key_map.*value_size mismatch/s);
  });
});

/** Member names of the anonymous struct that declares map `name` in the `.maps` section. */
function mapDefinitionMembers(types: Map<number, BtfType>, name: string): string[] {
  const variable = [...types.values()].find((t) => t.kind === 'VAR' && t.name === name);
  if (!variable) throw new Error(`no map ${name}`);
  const def = types.get(variable.type_id!)!;
  return (def.members ?? []).map((m) => m.name);
}

describe('TLD_DATA_MAP_NO_PIN', () => {
  it('drops pinning by name from tld_data_map (the bpftool example), which the default keeps', () => {
    expect(mapDefinitionMembers(btf(objectPaths.example), 'tld_data_map')).toContain('pinning');
    const members = mapDefinitionMembers(btf(objectPaths.bpftoolExample), 'tld_data_map');
    expect(members).toEqual(expect.arrayContaining(['type', 'map_flags', 'key', 'value']));
    expect(members).not.toContain('pinning');
  });
});
