// The protocol document ships inside @tld/protocol, and the code cites it as "PROTOCOL.md §N": the document must
// have those sections, every citation must name one of them, and no tracked file may point outside the repository
// (a user who clones or installs the packages sees nothing else).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const protocolPath = fileURLToPath(new URL('../PROTOCOL.md', import.meta.url));
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  files?: string[];
};

// Spelled in pieces so this file does not match its own check.
const OUTSIDE_PATHS = [['..', 'shared', ''].join('/'), ['', 'work', 'shared'].join('/')];

/** Tracked files of the repository that exist in the working tree, as paths relative to its root. */
function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\0')
    .filter((file) => file !== '' && file !== 'pnpm-lock.yaml')
    .filter((file) => existsSync(join(repoRoot, file)) && statSync(join(repoRoot, file)).isFile());
}

/** Section numbers of the document's `## §N …` headings, in order. */
function sectionHeadings(markdown: string): number[] {
  return [...markdown.matchAll(/^## §(\d+)\s/gm)].map((m) => Number(m[1]));
}

/** The outside paths a text mentions. */
function outsideReferences(text: string): string[] {
  return OUTSIDE_PATHS.filter((path) => text.includes(path));
}

/** Every section a text cites as "PROTOCOL.md §N" (also "PROTOCOL.md §2, §4" and the short "PROTOCOL §N"). */
function citedSections(text: string): number[] {
  const found: number[] = [];
  for (const match of text.matchAll(/PROTOCOL(?:\.md)?((?:,?\s*(?:and\s+)?§\d+)+)/g)) {
    for (const n of match[1]!.matchAll(/§(\d+)/g)) found.push(Number(n[1]));
  }
  return found;
}

const files = trackedFiles();
const protocol = existsSync(protocolPath) ? readFileSync(protocolPath, 'utf8') : '';
const sections = new Set(sectionHeadings(protocol));

describe('PROTOCOL.md', () => {
  it('exists in the package and has the sections §1 to §8, in order', () => {
    expect(existsSync(protocolPath), 'packages/protocol/PROTOCOL.md is missing').toBe(true);
    expect(sectionHeadings(protocol)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('is tracked by git', () => {
    expect(files).toContain('packages/protocol/PROTOCOL.md');
  });

  it('is in the files that @tld/protocol publishes', () => {
    expect(packageJson.files ?? []).toContain('PROTOCOL.md');
  });

  it('refers only to its own sections', () => {
    const own = [...protocol.matchAll(/§(\d+)/g)].map((m) => Number(m[1]));
    expect(own.filter((n) => !sections.has(n))).toEqual([]);
  });
});

describe('tracked files', () => {
  it('finds the repository through git', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'packages/protocol/package.json']));
  });

  it('refer to no path outside the repository', () => {
    const offenders = files.flatMap((file) => {
      return outsideReferences(readFileSync(join(repoRoot, file), 'utf8')).map((path) => `${file}: ${path}`);
    });
    expect(offenders).toEqual([]);
  });

  it('cite only sections that PROTOCOL.md has', () => {
    let citations = 0;
    const wrong = files.flatMap((file) => {
      const cited = citedSections(readFileSync(join(repoRoot, file), 'utf8'));
      citations += cited.length;
      return cited.filter((n) => !sections.has(n)).map((n) => `${file}: §${n}`);
    });
    expect(wrong).toEqual([]);
    // The code cites the document dozens of times; finding none means the pattern broke, not that all is well.
    expect(citations).toBeGreaterThan(40);
  });

  it('the checks catch what they must (so the checks above can fail)', () => {
    const doc = 'PROTOCOL'; // spelled apart so the sample's §9 is not a citation of this file
    const sample = `see ${doc}.md §3; ${doc}.md §2, §4 and §9; (${doc} §6); ${doc}_INCLUDE := x; §8 alone`;
    expect(citedSections(sample)).toEqual([3, 2, 4, 9, 6]);
    expect(sectionHeadings('## §1 One\n### §2 not a section\n## §3 Three\n')).toEqual([1, 3]);
    expect(outsideReferences(`[contract](../../..${'/shared/'}PROTOCOL.md), see /work${'/shared'}/x`)).toEqual(
      OUTSIDE_PATHS,
    );
    expect(outsideReferences('[contract](packages/protocol/PROTOCOL.md)')).toEqual([]);
  });
});
