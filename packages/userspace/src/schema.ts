// Typed keys declared once: tld.define({ req_id: 'u64', route: { type: 'string', size: 32 } }) creates the keys
// and returns a view whose run(), set() and get() TypeScript checks against the declaration (a misspelt name or a
// value of the wrong type does not compile). The dynamic API (tld.u64(name), tld.run(values)) stays as it is; the
// view is built on it and checks the same things at run time for JavaScript callers.
import { TldError, VALUE_TYPES, type ValueTypeName } from '@tld/protocol';
import { UserspaceErrorCode, describeValue, invalidArgType, invalidArgValue } from './errors.js';
import type { Key } from './key.js';
import type { FixedType, KeyOf, OptionsOf, SizedType, ValueOf } from './key-classes.js';
import type { TaskLocalData } from './task-local-data.js';
import type { TraceContext } from './trace-context.js';

/** A declaration of a value type whose size each key chooses: the type, the size, and the type's options. */
type SizedSpec<T extends SizedType> = { readonly type: T; readonly size: number } & ([OptionsOf<T>] extends [never]
  ? unknown
  : NonNullable<OptionsOf<T>>);

/**
 * How one key is declared: a value type of one size by name ('u64', ...), or a type whose keys choose their size
 * with the size (and that type's options): `{ type: 'string', size: 32, truncate: true }`.
 */
export type KeySpec = FixedType | { [T in SizedType]: SizedSpec<T> }[SizedType];

/** Key names to their declarations. */
export type Schema = Readonly<Record<string, KeySpec>>;

/** The value type a declaration names. */
type TypeOf<S extends KeySpec> = S extends FixedType
  ? S
  : S extends { readonly type: infer T extends SizedType }
    ? T
    : never;

/** The key class a declaration makes. */
export type KeyFor<S extends KeySpec> = KeyOf<TypeOf<S>>;

/** The value type of a declaration: what set() and run() take for it. */
export type ValueFor<S extends KeySpec> = ValueOf<TypeOf<S>>;

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

const TYPES = Object.keys(VALUE_TYPES) as ValueTypeName[];
const isSized = (type: ValueTypeName): boolean => VALUE_TYPES[type].size === undefined;

/** The forms of declaration, for messages: 'u64', ..., { type: 'string', size } or { type: 'bytes', size }. */
const FORMS = TYPES.map((type) => (isSized(type) ? `{ type: '${type}', size }` : `'${type}'`));
const FORMS_TEXT = `${FORMS.slice(0, -1).join(', ')} or ${FORMS.at(-1)}`;

function isType(value: unknown): value is ValueTypeName {
  return typeof value === 'string' && Object.hasOwn(VALUE_TYPES, value);
}

/** A type's key method, called as TaskLocalData's own: (name) or (name, size, options). */
function methodOf(tld: TaskLocalData, type: ValueTypeName): (name: string, ...args: unknown[]) => Key {
  return (tld[type] as (name: string, ...args: unknown[]) => Key).bind(tld);
}

function makeKey(tld: TaskLocalData, name: string, spec: unknown): Key {
  if (isType(spec) && !isSized(spec)) return methodOf(tld, spec)(name);
  if (spec !== null && typeof spec === 'object') {
    const { type, size, ...options } = spec as Record<string, unknown>;
    if (isType(type) && isSized(type) && typeof size === 'number') return methodOf(tld, type)(name, size, options);
  }
  const got = typeof spec === 'string' ? JSON.stringify(spec) : describeValue(spec);
  throw invalidArgValue(`define(schema): key ${JSON.stringify(name)} must be declared as ${FORMS_TEXT}, got ${got}`);
}

/** @internal TaskLocalData.define(): creates every key (get-or-create), then returns the typed view. */
export function defineSchema<S extends Schema>(tld: TaskLocalData, schema: S): TypedTaskLocalData<S> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw invalidArgType(
      `define(schema): schema must be an object from key names to declarations, like { req_id: 'u64' }, got ${describeValue(schema)}`,
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
        throw invalidArgType(
          `set(values): values must be an object from key names to values, got ${describeValue(values)}`,
        );
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
