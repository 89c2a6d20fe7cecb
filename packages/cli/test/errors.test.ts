// The CLI's error codes: one table (src/errors.ts), documented in the README, raised as TldErrors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TldError } from '@tld/protocol';
import { CliError, CliErrorCode } from '../src/index.js';
import { explain } from '../src/explain.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('CliError', () => {
  it('is a TldError with its code', () => {
    const error = new CliError(CliErrorCode.PIN_TAKEN, 'taken');
    expect(error).toBeInstanceOf(TldError);
    expect(error.code).toBe('ERR_TLD_PIN_TAKEN');
    expect(explain(error)).toEqual({ code: 'ERR_TLD_PIN_TAKEN', message: 'taken' });
  });

  it('every code of the table is in the README table of errors', () => {
    for (const code of Object.values(CliErrorCode)) expect(readme).toMatch(new RegExp(`\\| [^\\n]*\`${code}\``));
  });

  it('ERR_TLD_ADDON comes from the error the loader threw, never from its message text', () => {
    const thrown = new TldError('ERR_TLD_ADDON', '@tld/userspace: the native addon did not load');
    expect(explain(thrown).code).toBe('ERR_TLD_ADDON');
    expect(explain(new Error('@tld/userspace: something else')).code).toBe('ERR_TLD_INTERNAL');
  });
});
