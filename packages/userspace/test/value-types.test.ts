// @tld/protocol's table of value types is the list of key kinds: each has its key class in keys.ts and its
// TaskLocalData method, and the messages that list the kinds follow the table.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { VALUE_TYPES } from '@tld/protocol';
import * as exported from '../src/index.js';
import {
  type BytesKey,
  type F64Key,
  type I64Key,
  type StringKey,
  type StringKeyOptions,
  TaskLocalData,
  type U32Key,
  type U64Key,
} from '../src/index.js';
import { KEY_CLASSES } from '../src/key-classes.js';
import { unknownKeyError } from '../src/errors.js';

const types = Object.keys(VALUE_TYPES);

describe('value types', () => {
  it.each(types)('%s has a key class, exported by the package', (name) => {
    const KeyClass = (KEY_CLASSES as Record<string, unknown>)[name];
    expect(KeyClass).toBeTypeOf('function');
    expect(Object.values(exported)).toContain(KeyClass);
  });

  it('every key class serves a row of the table', () => {
    for (const [name, KeyClass] of Object.entries(KEY_CLASSES)) expect(KeyClass.valueType).toBe(name);
    expect(Object.keys(KEY_CLASSES).sort()).toEqual([...types].sort());
  });

  it.each(types)('TaskLocalData has a method named %s', (name) => {
    const method = (TaskLocalData.prototype as unknown as Record<string, unknown>)[name];
    expect(method).toBeTypeOf('function');
    expect((method as () => unknown).name).toBe(name);
  });

  it('the methods made from the table have the signatures the API documents (a type test: pnpm lint)', () => {
    expectTypeOf<TaskLocalData['u64']>().toEqualTypeOf<(name: string) => U64Key>();
    expectTypeOf<TaskLocalData['i64']>().toEqualTypeOf<(name: string) => I64Key>();
    expectTypeOf<TaskLocalData['u32']>().toEqualTypeOf<(name: string) => U32Key>();
    expectTypeOf<TaskLocalData['f64']>().toEqualTypeOf<(name: string) => F64Key>();
    expectTypeOf<TaskLocalData['string']>().toEqualTypeOf<
      (name: string, size: number, options?: StringKeyOptions) => StringKey
    >();
    expectTypeOf<TaskLocalData['bytes']>().toEqualTypeOf<(name: string, size: number) => BytesKey>();
  });

  it('the unknown-key message lists every type', () => {
    const message = unknownKeyError('x', []).message;
    for (const name of types) expect(message).toContain(name);
  });
});
