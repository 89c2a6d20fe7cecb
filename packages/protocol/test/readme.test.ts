// The README's example must keep working: run it against the built package.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('README example', () => {
  it('runs and prints what its comments say', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'README.md has no ```js example').toBeDefined();
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const dir = mkdtempSync(join(tmpdir(), 'tld-readme-'));
    try {
      const file = join(dir, 'example.mjs');
      writeFileSync(file, example!.replace("from '@tld/protocol'", `from '${dist}'`));
      const stdout = execFileSync(process.execPath, [file], { encoding: 'utf8' });
      expect(stdout.trim().split('\n')).toEqual([
        '0 8 false',
        'ERR_TLD_SIZE_MISMATCH',
        'req_id@0 route@8',
        'req_id 8 42,0,0,0,0,0,0,0',
        'route 12 47,117,115,101,114,115,47,58,105,100,0,0',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
