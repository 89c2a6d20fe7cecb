import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TESTKIT_HEADER_COMMAND, renderTestkitHeader } from '../src/layout.js';

describe('the generated header', () => {
  it(`include/tld_testkit.h is what src/layout.ts renders (regenerate with \`${TESTKIT_HEADER_COMMAND}\`)`, () => {
    const committed = readFileSync(new URL('../include/tld_testkit.h', import.meta.url), 'utf8');
    expect(committed).toBe(renderTestkitHeader());
  });
});
