// The README's examples are what users copy: run each (against the built package, on a pinned test map) and check
// it prints what the README says it prints.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { bpfSupport, readmeExample, uniquePinPath } from '@tld/testkit';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!bpfSupport().supported)('README examples', () => {
  let reader: Reader;
  let pin: string;
  beforeAll(() => {
    pin = uniquePinPath('otel-readme');
    reader = loadReader({ map: { pinPath: pin } });
  });
  afterAll(() => reader?.close());

  it.each(['TldContextManager(tld'])('the %s example prints what the README shows', (marker) => {
    const { code, prints } = readmeExample(packageDir, marker);
    expect(code).toContain('TaskLocalData.open()');
    // Inside the package directory, so @tld/otel and OpenTelemetry resolve to this workspace's.
    const dir = join(packageDir, '.vitest');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, 'readme-example.mjs');
    writeFileSync(script, code.replace('TaskLocalData.open()', 'TaskLocalData.open({ pinPath: process.env.TLD_PIN })'));
    const printed = execFileSync(process.execPath, [script], {
      env: { ...process.env, TLD_PIN: pin },
      encoding: 'utf8',
    });
    expect(printed.trimEnd().split('\n')).toEqual(prints);
  });
});
