// The README's BPF example and compile commands are what a consumer copies: keep the C block equal to the
// example `make` builds, and run the commands in a scratch project laid out as an installed consumer's.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { includeDirs } from '../src/index.js';
import { btf, compileBpf, struct } from './btf-util.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(pkg, 'README.md'), 'utf8');

function block(lang: string, containing: string): string {
  const found = [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))]
    .map((m) => m[1]!)
    .filter((b) => b.includes(containing));
  if (found.length !== 1) throw new Error(`expected one \`\`\`${lang} block with ${containing}, found ${found.length}`);
  return found[0]!;
}

/** examples/<name> without its comment-only lines (the README explains in prose instead). */
function exampleWithoutComments(name = 'req_trace.bpf.c'): string {
  return readFileSync(join(pkg, 'examples', name), 'utf8')
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\/\*.*\*\/\s*$)/.test(line))
    .join('\n');
}

describe('README', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tld-readme-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the C example is examples/req_trace.bpf.c', () => {
    expect(block('c', 'on_sys_enter')).toBe(exampleWithoutComments());
  });

  it('the tld_get_context_data() example is examples/route_sample.bpf.c', () => {
    expect(block('c', 'samples_by_route')).toBe(exampleWithoutComments('route_sample.bpf.c'));
  });

  it('the compile commands build the example in a project that installed both packages', () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, 'node_modules/@tld'), { recursive: true });
    symlinkSync(pkg, join(project, 'node_modules/@tld/bpf-programs'));
    symlinkSync(realpathSync(join(pkg, 'node_modules/@tld/protocol')), join(project, 'node_modules/@tld/protocol'));
    writeFileSync(join(project, 'req_trace.bpf.c'), block('c', 'on_sys_enter'));
    execFileSync('sh', ['-e', '-c', block('sh', 'clang-19')], { cwd: project, stdio: 'pipe' });
    const types = btf(join(project, 'req_trace.bpf.o'));
    expect(struct(types, 'tld_map_value').size).toBe(16);
    expect(struct(types, 'tld_key_owner').size).toBe(24);
  });

  it('includeDirs are the directories holding tld.bpf.h and tld_layout.h', () => {
    const out = join(dir, 'by-include-dirs.bpf.o');
    compileBpf(join(pkg, 'examples/req_trace.bpf.c'), out, [...includeDirs, join(pkg, 'build')]);
    expect(struct(btf(out), 'tld_key_owner').size).toBe(24);
  });
});
