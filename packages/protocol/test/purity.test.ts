// @tld/protocol must run anywhere JavaScript runs (the root README's package table): its source imports no node: module and no
// other package, only its own files.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

/** Every module specifier a file mentions: static and dynamic imports, re-exports, require(), import types. */
function specifiers(source: string): string[] {
  const found = ts.preProcessFile(source, true, true).importedFiles.map((ref) => ref.fileName);
  // preProcessFile misses `import('x')` types inside type positions; a regex catches those and `require`.
  for (const match of source.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

/** Why a specifier is not allowed in src/, or undefined when it is a relative path to another src/ file. */
function violation(specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return 'a node: module';
  if (!specifier.startsWith('./')) return 'not a file of this package';
  if (!specifier.endsWith('.js')) return 'a relative import without the .js extension NodeNext needs';
  const target = specifier.slice(2).replace(/\.js$/, '.ts');
  if (target.includes('/') || !existsSync(`${srcDir}${target}`)) return 'not a file in src/';
  return undefined;
}

const sourceFiles = readdirSync(srcDir).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));

describe('package purity', () => {
  it('finds the source files', () => {
    expect(sourceFiles).toEqual(expect.arrayContaining(['index.ts', 'keys.ts', 'layout.ts', 'pages.ts']));
  });

  it.each(sourceFiles)('src/%s imports only files of src/', (file) => {
    const problems = specifiers(readFileSync(`${srcDir}${file}`, 'utf8'))
      .map((specifier) => [specifier, violation(specifier)] as const)
      .filter(([, why]) => why !== undefined)
      .map(([specifier, why]) => `${specifier}: ${why}`);
    expect(problems).toEqual([]);
  });

  it('declares no runtime dependencies', () => {
    expect(packageJson.dependencies ?? {}).toEqual({});
    expect(packageJson.peerDependencies ?? {}).toEqual({});
    expect(packageJson.optionalDependencies ?? {}).toEqual({});
  });

  it('the checker catches what it must (so the checks above can fail)', () => {
    const sample = [
      "import { readFileSync } from 'node:fs';",
      "export * from '@tld/userspace';",
      "import type { X } from 'fast-check';",
      "const m = await import('node:os');",
      "const c = require('child_process');",
      "import './side-effect';",
      "import { ok } from './layout.js';",
    ].join('\n');
    const bad = specifiers(sample).filter((specifier) => violation(specifier) !== undefined);
    expect(new Set(bad)).toEqual(
      new Set(['node:fs', '@tld/userspace', 'fast-check', 'node:os', 'child_process', './side-effect']),
    );
  });
});
