// @tld/protocol's table of value types is the list of key kinds: each has its TaskLocalData method, and the
// messages that list the kinds follow the table.
import { describe, expect, it } from 'vitest';
import { VALUE_TYPES } from '@tld/protocol';
import { TaskLocalData } from '../src/index.js';
import { unknownKeyError } from '../src/errors.js';

describe('value types', () => {
  it.each(Object.keys(VALUE_TYPES))('TaskLocalData has a method for %s keys', (name) => {
    expect(typeof (TaskLocalData.prototype as unknown as Record<string, unknown>)[name]).toBe('function');
  });

  it('the unknown-key message lists every type', () => {
    const message = unknownKeyError('x', []).message;
    for (const name of Object.keys(VALUE_TYPES)) expect(message).toContain(name);
  });
});
