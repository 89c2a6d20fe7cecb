// tld header: where the C headers for BPF programs are (found through the packages' exports, wherever the package
// manager installed them), or their text.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { compileLine } from '../compile-line.js';
import { ExitCode, type RunState, action, columns, output } from '../output.js';
import { jsonOption } from '../options.js';

const require = createRequire(import.meta.url);

/** Each header BPF authors include, by the name they #include it with, and the export it is resolved through. */
const HEADERS = Object.freeze({
  'tld.bpf.h': '@tld/bpf-programs/include/tld.bpf.h',
  'tld_layout.h': '@tld/protocol/include/tld_layout.h',
  'tld_reader.h': '@tld/bpf-programs/include/tld_reader.h',
});
type HeaderName = keyof typeof HEADERS;
const NAMES = Object.keys(HEADERS) as HeaderName[];

function headerPaths(): Record<HeaderName, string> {
  return Object.fromEntries(NAMES.map((name) => [name, require.resolve(HEADERS[name])])) as Record<HeaderName, string>;
}

function parseHeader(value: string): HeaderName {
  if (!(NAMES as string[]).includes(value)) throw new InvalidArgumentError(`choose one of ${NAMES.join(', ')}`);
  return value as HeaderName;
}

function header(opts: { print?: HeaderName | true; json: boolean }): ExitCode {
  const paths = headerPaths();
  const includeDirs = [...new Set(Object.values(paths).map((p) => dirname(p)))];
  const cflags = includeDirs.map((d) => `-I${d}`).join(' ');
  const out = output(opts.json);
  if (opts.print !== undefined) {
    const names = opts.print === true ? NAMES : [opts.print];
    const texts = Object.fromEntries(names.map((name) => [name, readFileSync(paths[name], 'utf8')]));
    out.result(
      { headers: texts },
      names.map((name) => (names.length > 1 ? `/* ==> ${paths[name]} <== */\n` : '') + texts[name]).join('\n'),
    );
    return ExitCode.OK;
  }
  const compile = compileLine(cflags);
  out.result(
    {
      headers: paths,
      includeDirs,
      cflags,
      compile: compile.command,
      compiler: compile.compiler ?? null,
      missing: compile.missing,
    },
    `${columns(NAMES.map((name) => [name, paths[name]]))}\n\n` +
      `compile a BPF program that includes tld.bpf.h with:\n` +
      `  ${compile.command}\n` +
      `(and a vmlinux.h: bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h)` +
      compile.missing.map((m) => `\nmissing: ${m}`).join(''),
  );
  return ExitCode.OK;
}

export function headerCommand(program: Command, state: RunState): void {
  const cmd = program
    .command('header')
    .description('show where the C headers for BPF programs are (tld.bpf.h and what it includes), or print them')
    .addOption(
      new Option('--print [name]', `print a header's text (${NAMES.join(', ')}; all of them without a name)`).argParser(
        parseHeader,
      ),
    );
  jsonOption(cmd).action(action(state, header));
}
