// The C header must compile for BPF and for the host (C and C++), and must mean what layout.ts means: a C program
// prints sizeof/offsetof and we compare. (That the committed copy is current is checked with every other generated
// file, in packages/e2e/test/generated.test.ts.)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DATA_START,
  MAP_VALUE_DATA_OFFSET,
  MAP_VALUE_META_OFFSET,
  MAP_VALUE_SIZE_V1,
  MAP_VALUE_SIZE_V2,
  MAP_VALUE_START_OFFSET,
  META_CNT_OFFSET,
  META_SIZE_OFFSET,
  META_SLOTS_OFFSET,
  SLOT_NAME_OFFSET,
  SLOT_NAME_SIZE,
  SLOT_SIZE,
  SLOT_VALUE_SIZE_OFFSET,
  VALUE_ALIGN,
  layoutFor,
  renderLayoutHeader,
  roundUpValueSize,
  slotOffset,
  slotValueSizeOffset,
} from '../src/index.js';
import { CTX_RECORD_STRUCT, WALK_STRUCT, fieldBytes } from '../src/context.js';

const headerPath = fileURLToPath(new URL('../include/tld_layout.h', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'tld-layout-h-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs a tool; a missing tool fails the test with the package to install (CI installs them all). */
function run(tool: string, args: string[], install: string): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === 'ENOENT') throw new Error(`${tool} not found: install ${install} (tools/setup does)`);
    throw new Error(`${tool} ${args.join(' ')} failed:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

const multiarch = (): string => run('gcc', ['-dumpmachine'], 'build-essential').trim();

/** Writes the header for a page size into its own directory and returns that directory. */
function headerDirFor(pageSize: number): string {
  if (pageSize === 4096) return fileURLToPath(new URL('../include/', import.meta.url));
  const dir = join(workDir, `p${pageSize}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tld_layout.h'), renderLayoutHeader(layoutFor(pageSize)));
  return dir;
}

// Prints "name value" lines; compared with what layout.ts says.
const probeSource = `#include <stddef.h>
#include <stdio.h>
#include "tld_layout.h"
#define P(name, value) printf("%s %lu\\n", name, (unsigned long)(value))
int main(void) {
\tP("sizeof.tld_metadata", sizeof(struct tld_metadata));
\tP("off.tld_metadata.name", offsetof(struct tld_metadata, name));
\tP("sizeof.tld_metadata.name", sizeof(((struct tld_metadata *)0)->name));
\tP("off.tld_metadata.size", offsetof(struct tld_metadata, size));
\tP("sizeof.tld_metadata.size", sizeof(((struct tld_metadata *)0)->size));
\tP("off.tld_meta_u.cnt", offsetof(struct tld_meta_u, cnt));
\tP("sizeof.tld_meta_u.cnt", sizeof(((struct tld_meta_u *)0)->cnt));
\tP("off.tld_meta_u.size", offsetof(struct tld_meta_u, size));
\tP("sizeof.tld_meta_u.size", sizeof(((struct tld_meta_u *)0)->size));
\tP("off.tld_meta_u.metadata", offsetof(struct tld_meta_u, metadata));
\tP("off.tld_meta_u.metadata[1].name", offsetof(struct tld_meta_u, metadata[1].name));
\tP("off.tld_meta_u.metadata[5].size", offsetof(struct tld_meta_u, metadata[5].size));
\tP("off.tld_meta_u.metadata[last].size", offsetof(struct tld_meta_u, metadata[TLD_MAX_KEYS - 1].size));
\tP("sizeof.tld_meta_u", sizeof(struct tld_meta_u));
\tP("off.tld_data_u.start", offsetof(struct tld_data_u, start));
\tP("sizeof.tld_data_u.start", sizeof(((struct tld_data_u *)0)->start));
\tP("off.tld_data_u.data", offsetof(struct tld_data_u, data));
\tP("sizeof.tld_data_u", sizeof(struct tld_data_u));
\tP("off.tld_map_value.data", offsetof(struct tld_map_value, data));
\tP("off.tld_map_value.meta", offsetof(struct tld_map_value, meta));
\tP("sizeof.tld_map_value", sizeof(struct tld_map_value));
\tP("off.tld_map_value_v2.data", offsetof(struct tld_map_value_v2, data));
\tP("off.tld_map_value_v2.meta", offsetof(struct tld_map_value_v2, meta));
\tP("off.tld_map_value_v2.start", offsetof(struct tld_map_value_v2, start));
\tP("sizeof.tld_map_value_v2.start", sizeof(((struct tld_map_value_v2 *)0)->start));
\tP("sizeof.tld_map_value_v2", sizeof(struct tld_map_value_v2));
\tP("TLD_PAGE_SIZE", TLD_PAGE_SIZE);
\tP("TLD_MAX_KEYS", TLD_MAX_KEYS);
\tP("TLD_NAME_LEN", TLD_NAME_LEN);
\tP("TLD_VALUE_ALIGN", TLD_VALUE_ALIGN);
\tP("TLD_DATA_START", TLD_DATA_START);
\tP("TLD_DATA_BYTES", TLD_DATA_BYTES);
\tP("TLD_MAP_VALUE_SIZE", TLD_MAP_VALUE_SIZE);
\tP("TLD_MAP_VALUE_V2_SIZE", TLD_MAP_VALUE_V2_SIZE);
\tfor (unsigned long n = 0; n <= 40; n++) printf("roundup.%lu %lu\\n", n, (unsigned long)TLD_ROUND_UP_VALUE_SIZE(n));
\tP("roundup.4087", TLD_ROUND_UP_VALUE_SIZE(4087));
\tP("roundup.4088", TLD_ROUND_UP_VALUE_SIZE(4088));
\treturn 0;
}
`;

function expectedProbe(pageSize: number): Record<string, number> {
  const layout = layoutFor(pageSize);
  const expected: Record<string, number> = {
    'sizeof.tld_metadata': SLOT_SIZE,
    'off.tld_metadata.name': SLOT_NAME_OFFSET,
    'sizeof.tld_metadata.name': SLOT_NAME_SIZE,
    'off.tld_metadata.size': SLOT_VALUE_SIZE_OFFSET,
    'sizeof.tld_metadata.size': 2,
    'off.tld_meta_u.cnt': META_CNT_OFFSET,
    'sizeof.tld_meta_u.cnt': 2,
    'off.tld_meta_u.size': META_SIZE_OFFSET,
    'sizeof.tld_meta_u.size': 2,
    'off.tld_meta_u.metadata': META_SLOTS_OFFSET,
    'off.tld_meta_u.metadata[1].name': slotOffset(1) + SLOT_NAME_OFFSET,
    'off.tld_meta_u.metadata[5].size': slotValueSizeOffset(5),
    'off.tld_meta_u.metadata[last].size': slotValueSizeOffset(layout.maxKeys - 1),
    'sizeof.tld_meta_u': layout.metaStructSize,
    'off.tld_data_u.start': 0,
    'sizeof.tld_data_u.start': 8,
    'off.tld_data_u.data': DATA_START,
    'sizeof.tld_data_u': layout.dataStructSize,
    'off.tld_map_value.data': MAP_VALUE_DATA_OFFSET,
    'off.tld_map_value.meta': MAP_VALUE_META_OFFSET,
    'sizeof.tld_map_value': MAP_VALUE_SIZE_V1,
    'off.tld_map_value_v2.data': MAP_VALUE_DATA_OFFSET,
    'off.tld_map_value_v2.meta': MAP_VALUE_META_OFFSET,
    'off.tld_map_value_v2.start': MAP_VALUE_START_OFFSET,
    'sizeof.tld_map_value_v2.start': 2,
    'sizeof.tld_map_value_v2': MAP_VALUE_SIZE_V2,
    TLD_PAGE_SIZE: pageSize,
    TLD_MAX_KEYS: layout.maxKeys,
    TLD_NAME_LEN: SLOT_NAME_SIZE,
    TLD_VALUE_ALIGN: VALUE_ALIGN,
    TLD_DATA_START: DATA_START,
    TLD_DATA_BYTES: layout.dataBytes,
    TLD_MAP_VALUE_SIZE: MAP_VALUE_SIZE_V1,
    TLD_MAP_VALUE_V2_SIZE: MAP_VALUE_SIZE_V2,
    'roundup.4087': roundUpValueSize(4087),
    'roundup.4088': roundUpValueSize(4088),
  };
  for (let n = 0; n <= 40; n++) expected[`roundup.${n}`] = roundUpValueSize(n);
  return expected;
}

describe('include/tld_layout.h', () => {
  it('pins every field with a _Static_assert', () => {
    const asserts = renderLayoutHeader().match(/^TLD_STATIC_ASSERT\(/gm) ?? [];
    // 18 for the page structs; per walk/record field an offsetof and a sizeof, plus each struct's sizeof.
    expect(asserts.length).toBe(18 + 2 * WALK_STRUCT.fields.length + 1 + 2 * CTX_RECORD_STRUCT.fields.length + 1);
  });

  it.each([4096, 16384, 65536])('compiles for BPF with clang-19 -target bpf (%i-byte pages)', (pageSize) => {
    const dir = headerDirFor(pageSize);
    run(
      'clang-19',
      [
        '-target',
        'bpf',
        `-I/usr/include/${multiarch()}`,
        '-Wall',
        '-Werror',
        '-fsyntax-only',
        '-x',
        'c',
        join(dir, 'tld_layout.h'),
      ],
      'clang-19',
    );
  });

  it.each([4096, 16384])('compiles with the host C compiler, -Wall -Wextra -Werror (%i-byte pages)', (pageSize) => {
    const dir = headerDirFor(pageSize);
    run(
      'cc',
      ['-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-x', 'c', join(dir, 'tld_layout.h')],
      'build-essential',
    );
  });

  it('compiles as C++', () => {
    run('c++', ['-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-x', 'c++', headerPath], 'build-essential (g++)');
  });

  it('fails to compile when the layout disagrees with an assert (the asserts are live)', () => {
    const broken = readFileSync(headerPath, 'utf8').replace('char name[TLD_NAME_LEN];', 'char name[TLD_NAME_LEN + 2];');
    const file = join(workDir, 'broken.h');
    writeFileSync(file, broken);
    expect(() => run('cc', ['-fsyntax-only', '-x', 'c', file], 'build-essential')).toThrow(
      /static assert|_Static_assert|static_assert/i,
    );
  });

  it.each([4096, 16384])('means in C what layout.ts means: sizeof/offsetof/macros (%i-byte pages)', (pageSize) => {
    const dir = headerDirFor(pageSize);
    const source = join(workDir, `probe-${pageSize}.c`);
    const binary = join(workDir, `probe-${pageSize}`);
    writeFileSync(source, probeSource);
    run('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', `-I${dir}`, '-o', binary, source], 'build-essential');
    const printed = Object.fromEntries(
      run(binary, [], 'nothing (it was just built)')
        .trim()
        .split('\n')
        .map((line) => {
          const [name, value] = line.split(' ');
          return [name!, Number(value)];
        }),
    );
    expect(printed).toEqual(expectedProbe(pageSize));
  });

  it('lays out struct tld_walk and struct tld_ctx_record in C exactly as their tables say', () => {
    const tables = [WALK_STRUCT, CTX_RECORD_STRUCT];
    const lines = tables.flatMap((t) => [
      `P("sizeof.${t.name}", sizeof(struct ${t.name}));`,
      ...t.fields.flatMap((f) => [
        `P("off.${t.name}.${f.name}", offsetof(struct ${t.name}, ${f.name}));`,
        `P("sizeof.${t.name}.${f.name}", sizeof(((struct ${t.name} *)0)->${f.name}));`,
      ]),
    ]);
    const source = join(workDir, 'ctx-probe.c');
    const binary = join(workDir, 'ctx-probe');
    writeFileSync(
      source,
      '#include <stddef.h>\n#include <stdio.h>\n#include "tld_layout.h"\n' +
        '#define P(name, value) printf("%s %lu\\n", name, (unsigned long)(value))\n' +
        `int main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`,
    );
    run('cc', ['-std=c11', '-Wall', '-Werror', `-I${headerDirFor(4096)}`, '-o', binary, source], 'build-essential');
    const printed = Object.fromEntries(
      run(binary, [], 'nothing')
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]),
    );
    const expected: Record<string, number> = {};
    for (const t of tables) {
      expected[`sizeof.${t.name}`] = t.size;
      for (const f of t.fields) {
        expected[`off.${t.name}.${f.name}`] = f.offset;
        expected[`sizeof.${t.name}.${f.name}`] = fieldBytes(f);
      }
    }
    expect(printed).toEqual(expected);
  });

  it('gives the BPF object the "uptr" type tag on both map-value pointers', () => {
    const source = join(workDir, 'uptr.bpf.c');
    const object = join(workDir, 'uptr.bpf.o');
    // clang emits a pointee reached only through a tagged pointer as a forward declaration (FWD), and the kernel
    // then treats the field as a number: globals of the pointee types keep the full structs in BTF.
    writeFileSync(
      source,
      '#include "tld_layout.h"\nstruct tld_map_value tld_uptr_dummy;\n' +
        'struct tld_data_u tld_data_dummy;\nstruct tld_meta_u tld_meta_dummy;\n',
    );
    run(
      'clang-19',
      [
        '-target',
        'bpf',
        '-O2',
        '-g',
        '-Wall',
        '-Werror',
        `-I/usr/include/${multiarch()}`,
        `-I${fileURLToPath(new URL('../include/', import.meta.url))}`,
        '-c',
        source,
        '-o',
        object,
      ],
      'clang-19',
    );
    const btf = run('bpftool', ['btf', 'dump', 'file', object], 'bpftool');
    // data and meta: PTR -> TYPE_TAG 'uptr' -> STRUCT (not FWD).
    expect(btf.match(/TYPE_TAG 'uptr'/g)?.length ?? 0).toBe(2);
    expect(btf).not.toMatch(/FWD 'tld_(data|meta)_u'/);
    expect(btf).toMatch(/STRUCT 'tld_map_value' size=16 vlen=2/);
    expect(btf).toMatch(/STRUCT 'tld_meta_u' size=4036 vlen=3/);
    expect(btf).toMatch(/STRUCT 'tld_data_u' size=4096 vlen=2/);
  });
});
