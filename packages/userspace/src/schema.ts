// Typed keys declared once: tld.define({ req_id: 'u64', route: { type: 'string', size: 32 } }) creates the keys
// and returns a view whose run(), set() and get() TypeScript checks against the declaration (a misspelt name or a
// value of the wrong type does not compile). The dynamic API (tld.u64(name), tld.run(values)) stays as it is; the
// view is built on it and checks the same things at run time for JavaScript callers.
import { TldError } from '@tld/protocol';
import { UserspaceErrorCode, invalidArgType, invalidArgValue } from './errors.js';
import type { BytesKey, F64Key, I64Key, Key, StringKey, U32Key, U64Key } from './keys.js';
import type { TaskLocalData } from './task-local-data.js';
import type { TraceContext } from './trace-context.js';

/** How one key is declared: a number type by name, or a string/bytes key with its size. */
export type KeySpec =
  | 'u64'
  | 'i64'
  | 'u32'
  | 'f64'
  | { readonly type: 'string'; readonly size: number; readonly truncate?: boolean }
  | { readonly type: 'bytes'; readonly size: number };

/** Key names to their declarations. */
export type Schema = Readonly<Record<string, KeySpec>>;

/** The key class a declaration makes. */
export type KeyFor<S extends KeySpec> = S extends 'u64'
  ? U64Key
  : S extends 'i64'
    ? I64Key
    : S extends 'u32'
      ? U32Key
      : S extends 'f64'
        ? F64Key
        : S extends { readonly type: 'string' }
          ? StringKey
          : BytesKey;

/** The value type of a declaration: what set() and run() take for it. */
export type ValueFor<S extends KeySpec> = S extends 'u64' | 'i64'
  ? bigint
  : S extends 'u32' | 'f64'
    ? number
    : S extends { readonly type: 'string' }
      ? string
      : Uint8Array;

/** Values for some of a schema's keys (run(), set()). */
export type SchemaValues<S extends Schema> = { readonly [K in keyof S]?: ValueFor<S[K]> };

/** The schema's keys by name. */
export type SchemaKeys<S extends Schema> = { readonly [K in keyof S]: KeyFor<S[K]> };

/** A TaskLocalData seen through a schema: the same keys and run(), typed. */
export interface TypedTaskLocalData<S extends Schema> {
  /** The TaskLocalData it was defined on (its dynamic API). */
  readonly tld: TaskLocalData;
  /** Each declared key, typed by its declaration. */
  readonly keys: SchemaKeys<S>;
  /** tld.run() with values checked against the schema (and the same optional trace context). */
  run<R>(values: SchemaValues<S>, fn: () => R, trace?: TraceContext): R;
  /** Sets several keys: every value is checked first, so a refused one leaves all of them unchanged. */
  set(values: SchemaValues<S>): void;
  /** Every declared key's current value (the running context's inside a run()). */
  get(): { -readonly [K in keyof S]: ValueFor<S[K]> };
}

const NUMBER_TYPES = new Set(['u64', 'i64', 'u32', 'f64']);

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function makeKey(tld: TaskLocalData, name: string, spec: unknown): Key {
  if (typeof spec === 'string' && NUMBER_TYPES.has(spec)) return tld[spec as 'u64' | 'i64' | 'u32' | 'f64'](name);
  if (spec !== null && typeof spec === 'object') {
    const { type, size, truncate } = spec as Record<string, unknown>;
    if (type === 'string' && typeof size === 'number') {
      return truncate === undefined
        ? tld.string(name, size)
        : tld.string(name, size, { truncate: truncate as boolean });
    }
    if (type === 'bytes' && typeof size === 'number') return tld.bytes(name, size);
  }
  const got = typeof spec === 'string' ? JSON.stringify(spec) : describe(spec);
  throw invalidArgValue(
    `define(schema): key ${JSON.stringify(name)} must be declared as 'u64', 'i64', 'u32', 'f64', ` +
      `{ type: 'string', size } or { type: 'bytes', size }, got ${got}`,
  );
}

/** @internal TaskLocalData.define(): creates every key (get-or-create), then returns the typed view. */
export function defineSchema<S extends Schema>(tld: TaskLocalData, schema: S): TypedTaskLocalData<S> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw invalidArgType(
      `define(schema): schema must be an object from key names to declarations, like { req_id: 'u64' }, got ${describe(schema)}`,
    );
  }
  const keys: Record<string, Key> = {};
  for (const name of Object.keys(schema)) keys[name] = makeKey(tld, name, schema[name]);
  const names = Object.keys(keys);
  const keyOf = (name: string): Key & { set(value: unknown): void; get(): unknown } => {
    const key = Object.hasOwn(keys, name) ? keys[name] : undefined;
    if (key === undefined) {
      throw new TldError(
        UserspaceErrorCode.UNKNOWN_KEY,
        `set(values): ${JSON.stringify(name)} is not declared in this schema (it has ${names.join(', ')}): add it to define()`,
      );
    }
    return key as Key & { set(value: unknown): void; get(): unknown };
  };
  return Object.freeze({
    tld,
    keys: Object.freeze(keys) as SchemaKeys<S>,
    run: <R>(values: SchemaValues<S>, fn: () => R, trace?: TraceContext): R =>
      tld.run(values as Parameters<TaskLocalData['run']>[0], fn, trace),
    set(values: SchemaValues<S>): void {
      if (values === null || typeof values !== 'object' || Array.isArray(values)) {
        throw invalidArgType(`set(values): values must be an object from key names to values, got ${describe(values)}`);
      }
      const entries = Object.entries(values as Record<string, unknown>).map(
        ([name, value]) => [keyOf(name), value] as const,
      );
      for (const [key, value] of entries) key.encode(value); // throws what set() would, before anything is written
      for (const [key, value] of entries) key.set(value);
    },
    get(): { -readonly [K in keyof S]: ValueFor<S[K]> } {
      const out: Record<string, unknown> = {};
      for (const name of names) out[name] = keyOf(name).get();
      return out as { -readonly [K in keyof S]: ValueFor<S[K]> };
    },
  });
}
