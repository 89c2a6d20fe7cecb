// README examples are what users copy, so tests run them: this finds an example and what the README says it prints.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * In `packageDir`'s README.md: the ```js block containing `marker` and the ```text block right after it (what it
 * prints, one line per entry). Throws when there is no such pair.
 */
export function readmeExample(packageDir: string, marker: string): { code: string; prints: string[] } {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], body: m[2] ?? '' }));
  const at = blocks.findIndex((b) => b.lang === 'js' && b.body.includes(marker));
  const printed = blocks[at + 1];
  if (at === -1 || printed?.lang !== 'text') throw new Error(`no js block with ${marker} followed by a text block`);
  return { code: (blocks[at] as { body: string }).body, prints: printed.body.trimEnd().split('\n') };
}
