// The README's run() example is what users copy: run it (against the built package, on a test map) and check it
// prints what the README says it prints.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PinnedMaps, loadFixtureMaps, packageDir } from './fixture.js';

const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');

/** The body of the one ```lang block of the README that contains `containing`. */
function block(lang: string, containing: string): string {
  const found = [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))]
    .map((m) => m[1] as string)
    .filter((body) => body.includes(containing));
  if (found.length !== 1) throw new Error(`expected one \`\`\`${lang} block with ${containing}, found ${found.length}`);
  return found[0] as string;
}

describe('README: values that follow the request', () => {
  let maps: PinnedMaps;
  beforeAll(() => {
    maps = loadFixtureMaps();
  });
  afterAll(() => maps?.remove());

  it('the run() example prints what the README shows', () => {
    const example = block('js', 'tld.run(');
    expect(example).toContain('TaskLocalData.open()');
    // Inside the package directory, so `@tld/userspace` resolves to this package's build; on the test's map.
    const dir = join(packageDir, '.vitest');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, 'readme-run-example.mjs');
    // The example opens the default map; TLD_PIN points it at the test's map, as it would a user's app.
    writeFileSync(script, example);
    const printed = execFileSync(process.execPath, [script], {
      env: { ...process.env, TLD_PIN: maps.pin('tld_data_map') },
      encoding: 'utf8',
    });
    expect(printed.trimEnd().split('\n')).toEqual(block('text', '/users/:id').trimEnd().split('\n'));
  });
});
