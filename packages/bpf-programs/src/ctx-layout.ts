// C struct layouts described once, in TypeScript: a generated header declares each struct with a static assertion
// per field, and TypeScript reads and writes the same bytes with the offsets computed here by C's layout rules
// (natural alignment, tail padding), so no offset is written by hand. Each program family describes its own
// structs with these: reader-layout.ts (tld_read, tld_read_cached), iter-layout.ts (tld_iter); @tld/testkit (bench
// and lifecycle programs) and @tld/profiler import them as @tld/bpf-programs/c-layout.

type Scalar = 'char' | '__u8' | '__u16' | '__u32' | '__s32' | '__u64';
const SCALAR_SIZE: Record<Scalar, number> = { char: 1, __u8: 1, __u16: 2, __u32: 4, __s32: 4, __u64: 8 };

/** One #define of a generated header: a name, its value and what it means. */
export interface Define {
  readonly name: string;
  readonly value: number;
  readonly comment: string;
}

/** One string #define of a generated header, e.g. a key name a BPF program and its TypeScript runner both use. */
export interface StringDefine {
  readonly name: string;
  readonly value: string;
  readonly comment: string;
}

export interface FieldSpec {
  readonly name: string;
  readonly type: Scalar | StructLayout;
  /** Array length, as the name of one of the header's defines. */
  readonly count?: string;
  readonly comment?: string;
}

/** A struct with its fields' offsets as the C compiler lays them out (natural alignment, tail padding). */
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldSpec[];
  readonly offsets: Readonly<Record<string, number>>;
}

/** The value of define `name` of `from`; throws when there is none. */
export function define(name: string, from: readonly Define[]): number {
  const found = from.find((d) => d.name === name);
  if (!found) throw new Error(`no define ${name}`);
  return found.value;
}

/** The value of string define `name` of `from`; throws when there is none. */
export function stringDefine(name: string, from: readonly StringDefine[]): string {
  const found = from.find((d) => d.name === name);
  if (!found) throw new Error(`no string define ${name}`);
  return found.value;
}

/** Lays out struct `name` with C's rules; array counts name one of `from`'s defines. */
export function struct(name: string, fields: FieldSpec[], from: readonly Define[]): StructLayout {
  let offset = 0;
  let align = 1;
  const offsets: Record<string, number> = {};
  for (const field of fields) {
    const [size, fieldAlign] =
      typeof field.type === 'string'
        ? [SCALAR_SIZE[field.type], SCALAR_SIZE[field.type]]
        : [field.type.size, field.type.align];
    offset = Math.ceil(offset / fieldAlign) * fieldAlign;
    offsets[field.name] = offset;
    offset += size * (field.count === undefined ? 1 : define(field.count, from));
    align = Math.max(align, fieldAlign);
  }
  return Object.freeze({
    name,
    size: Math.ceil(offset / align) * align,
    align,
    fields,
    offsets: Object.freeze(offsets),
  });
}

/** Offset of `field` in `layout`; throws when there is no such field. */
export function at(layout: StructLayout, field: string): number {
  const offset = layout.offsets[field];
  if (offset === undefined) throw new Error(`no field ${field} in struct ${layout.name}`);
  return offset;
}

/** The C declaration of `layout` followed by a static assertion of its size and of every field's offset. */
export function renderStruct(layout: StructLayout): string {
  const lines = layout.fields.map((f) => {
    const type = typeof f.type === 'string' ? f.type : `struct ${f.type.name}`;
    const decl = `\t${type} ${f.name}${f.count === undefined ? '' : `[${f.count}]`};`;
    return f.comment ? `${decl.padEnd(40)} /* ${f.comment} */` : decl;
  });
  const asserts = [
    `TLD_STATIC_ASSERT(sizeof(struct ${layout.name}) == ${layout.size}, "sizeof(struct ${layout.name})");`,
    ...layout.fields.map(
      (f) =>
        `TLD_STATIC_ASSERT(__builtin_offsetof(struct ${layout.name}, ${f.name}) == ${at(layout, f.name)}, ` +
        `"${layout.name}.${f.name}");`,
    ),
  ];
  return `struct ${layout.name} {\n${lines.join('\n')}\n};\n${asserts.join('\n')}\n`;
}

/** One `#define <prefix><NAME> 0x<value>` line per entry. */
export function bits(prefix: string, values: Readonly<Record<string, number>>): string {
  return Object.entries(values)
    .map(([name, value]) => `#define ${prefix}${name} 0x${value.toString(16)}`)
    .join('\n');
}

/** One commented `#define` per entry. */
export function renderDefines(list: readonly Define[]): string {
  return list.map((d) => `/* ${d.comment} */\n#define ${d.name} ${d.value}`).join('\n');
}

/** One commented `#define NAME "value"` per entry. */
export function renderStringDefines(list: readonly StringDefine[]): string {
  return list.map((d) => `/* ${d.comment} */\n#define ${d.name} ${JSON.stringify(d.value)}`).join('\n');
}
