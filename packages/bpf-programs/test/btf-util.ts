// Reads a BPF object's BTF through bpftool (-j), a reader that shares no code with this package; and compiles the
// BPF C files whose BTF the tests read.
import { execFileSync } from 'node:child_process';

export interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
}
export interface BtfType {
  id: number;
  kind: string;
  name: string;
  type_id?: number;
  size?: number;
  linkage?: string;
  members?: BtfMember[];
  nr_elems?: number;
  vars?: { type_id: number; name: string }[];
}

/** Every BTF type of the object at `path`, by id. */
export function btf(path: string): Map<number, BtfType> {
  const out = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', path], { encoding: 'utf8' })) as {
    types: BtfType[];
  };
  return new Map(out.types.map((t) => [t.id, t]));
}

/** The complete struct `name`; throws when the object has none (or only a forward declaration). */
export function struct(types: Map<number, BtfType>, name: string): BtfType {
  const found = [...types.values()].filter((t) => t.kind === 'STRUCT' && t.name === name);
  if (found.length !== 1) throw new Error(`expected one complete struct ${name}, found ${found.length}`);
  return found[0]!;
}

/** Byte offset of `member` in `s`. */
export function offsetOf(s: BtfType, member: string): number {
  const m = s.members?.find((x) => x.name === member);
  if (!m) throw new Error(`struct ${s.name} has no member ${member}`);
  if (m.bits_offset % 8 !== 0) throw new Error(`${s.name}.${member} is a bit field`);
  return m.bits_offset / 8;
}

/** Element count of array member `member` of `s` (through typedefs). */
export function arrayLength(types: Map<number, BtfType>, s: BtfType, member: string): number {
  const m = s.members?.find((x) => x.name === member);
  if (!m) throw new Error(`struct ${s.name} has no member ${member}`);
  let t = types.get(m.type_id);
  while (t && t.kind === 'TYPEDEF') t = types.get(t.type_id!);
  if (t?.kind !== 'ARRAY' || t.nr_elems === undefined) throw new Error(`${s.name}.${member} is not an array`);
  return t.nr_elems;
}

/** The BPF flags of the package's Makefile. testkit's compileBpf() is the same for the other packages' tests. */
const BPF_FLAGS = ['-target', 'bpf', '-O2', '-g', '-Wall', '-Werror', '-D__TARGET_ARCH_x86'];

/** Compiles one BPF C file with clang-19, `-I` for each of `includes`; throws with clang's output on failure. */
export function compileBpf(source: string, output: string, includes: readonly string[]): void {
  execFileSync('clang-19', [...BPF_FLAGS, ...includes.flatMap((d) => ['-I', d]), '-c', source, '-o', output]);
}
