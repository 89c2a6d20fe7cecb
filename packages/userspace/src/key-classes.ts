// The key classes by @tld/protocol's value type names, and the types of TaskLocalData's key methods made from them
// (u64(), string(), ...: one per row of VALUE_TYPES). A class of keys.ts serves the row its `static valueType`
// names, so a new value type is a row there and a class here: this file, TaskLocalData and index.ts stay as they are.
import { type KeyInfo, VALUE_TYPES, type ValueTypeName } from '@tld/protocol';
import type { Key, Session } from './key.js';
import * as keyModule from './keys.js';

/** What TaskLocalData needs of a key class: its row, how to make a key, and how to check the method's options. */
export interface KeyClass {
  readonly valueType: ValueTypeName;
  /** The last argument is what parseOptions() returned. */
  new (session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number, options: never): Key;
  /** Checks the options the method takes after the name (and size) before the key is created. */
  parseOptions?(options: unknown): unknown;
}

/** The class serving value type T (never while keys.ts has none). */
export type KeyClassOf<T extends ValueTypeName> = Extract<
  (typeof keyModule)[keyof typeof keyModule],
  { readonly valueType: T }
>;

/** The key the method of value type T returns. */
export type KeyOf<T extends ValueTypeName> = InstanceType<KeyClassOf<T>>;

/** The value set() of a type-T key takes. */
export type ValueOf<T extends ValueTypeName> = Parameters<KeyOf<T>['set']>[0];

/** The value types whose size each key chooses (the table has none): their methods and declarations take a size. */
export type SizedType = {
  [T in ValueTypeName]: (typeof VALUE_TYPES)[T]['size'] extends number ? never : T;
}[ValueTypeName];

/** The value types of one size: their methods take only a name. */
export type FixedType = Exclude<ValueTypeName, SizedType>;

/** The options a type-T method takes last (`{ truncate }` for strings); never when it takes none. */
export type OptionsOf<T extends ValueTypeName> =
  KeyClassOf<T> extends { parseOptions(options?: infer O): unknown } ? O : never;

type SizeArg<T extends ValueTypeName> = T extends SizedType ? [size: number] : [];
type OptionsArg<T extends ValueTypeName> = [OptionsOf<T>] extends [never] ? [] : [options?: OptionsOf<T>];

/**
 * TaskLocalData's key methods: `tld.u64(name)`, `tld.string(name, size, options?)`, ... Each gets or creates the
 * key `name` (8 bytes for u64, `size` bytes where the type has no size of its own) and throws what key creation
 * throws: TypeError ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad name, size or options, the TldErrors of
 * createKey, ERR_TLD_CLOSED after close(). A string key holds values up to size − 1 bytes (NUL-terminated);
 * `{ truncate: true }` makes its set() cut too-long values instead of throwing.
 */
export type KeyMethods = {
  [T in ValueTypeName]: (name: string, ...args: [...SizeArg<T>, ...OptionsArg<T>]) => KeyOf<T>;
};

/** The value types keys.ts has no class for: compiling KEY_CLASSES fails while there is one. */
type Unserved = { [T in ValueTypeName]: [KeyClassOf<T>] extends [never] ? T : never }[ValueTypeName];
type EveryTypeServed<Missing extends never> = [Missing] extends [never]
  ? { readonly [T in ValueTypeName]: KeyClass }
  : never;

function isKeyClass(value: unknown): value is KeyClass {
  return typeof value === 'function' && Object.hasOwn(value, 'valueType');
}

function collect(): Partial<Record<ValueTypeName, KeyClass>> {
  const table: Partial<Record<ValueTypeName, KeyClass>> = {};
  for (const value of Object.values(keyModule)) {
    if (isKeyClass(value) && Object.hasOwn(VALUE_TYPES, value.valueType)) table[value.valueType] = value;
  }
  return table;
}

/**
 * Each value type's key class. At run time a row is missing while keys.ts has no class for it
 * (test/value-types.test.ts fails); at compile time the cast below does not compile.
 */
export const KEY_CLASSES = Object.freeze(collect()) as EveryTypeServed<Unserved>;
