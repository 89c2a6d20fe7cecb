// CI cannot go green by skipping. One BPF test file runs the way `pnpm test` runs it (turbo → the package's
// `vitest run` → the file) in a process that cannot use bpf(): with TLD_REQUIRE_BPF=1 it must fail, without it it
// skips, and the closing summary (scripts/test-summary.mjs) fails on those skips when CI is set.
//
// How BPF is taken away: uid 0 stays (the checkout, bpffs and the caches stay writable, being root's own), but
// every capability goes, from the bounding set too, so no execve below gives root its capabilities back. With
// kernel.unprivileged_bpf_disabled != 0 bpf() then needs CAP_BPF or CAP_SYS_ADMIN and returns EPERM, which
// bpfSupport() (@tld/testkit) reports as NotSupportedError('bpf() permission'); the task storage maps and tracing
// programs the reader loads need CAP_BPF even where unprivileged bpf() is enabled.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closingLine, summarize } from '../scripts/test-summary.mjs';

/** The BPF test file this runs, relative to the repository root. Moved or renamed? Point this at another one
 * that skips on bpfSupport(): packages/userspace tests fail without BPF instead of skipping, so they cannot. */
const BPF_TEST_FILE = 'packages/e2e/test/e2e.test.ts';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const jsonReporter = fileURLToPath(new URL('./json-report.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tld-ci-honesty-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The directory and name of the package that holds `file`: the nearest package.json above it. */
function packageOf(/** @type {string} */ file) {
  let dir = dirname(file);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  /** @type {unknown} */
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const { name } = /** @type {{ name: string }} */ (manifest);
  return { dir, name };
}

/**
 * `turbo run test --filter=<package> --only -- <file>` with no capabilities; TLD_REQUIRE_BPF as given.
 * @param {string} name a name for the run's JSON report
 * @param {string | undefined} requireBpf
 */
function runWithoutBpf(name, requireBpf) {
  const file = join(root, BPF_TEST_FILE);
  const pkg = packageOf(file);
  const report = join(work, `${name}.json`);
  const env = { ...process.env };
  delete env['TLD_REQUIRE_BPF'];
  if (requireBpf !== undefined) env['TLD_REQUIRE_BPF'] = requireBpf;
  const run = spawnSync(
    'setpriv',
    [
      '--inh-caps=-all',
      '--ambient-caps=-all',
      '--bounding-set=-all',
      'pnpm',
      'exec',
      'turbo',
      'run',
      'test',
      `--filter=${pkg.name}`,
      '--only',
      '--',
      relative(pkg.dir, file),
      '--reporter=default',
      `--reporter=${jsonReporter}`,
      `--outputFile.json=${report}`,
    ],
    { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
  );
  const output = `${run.stdout}${run.stderr}`;
  const read = (/** @type {string} */ path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
  /** @param {boolean} ci */
  const summary = (ci) => summarize([{ name: pkg.name, report }], { ci, root, read });
  return { status: run.status, output, summary };
}

describe(`${BPF_TEST_FILE} without BPF privileges, run as CI runs it`, () => {
  it('exists (it is the file this test runs)', () => {
    expect(existsSync(join(root, BPF_TEST_FILE)), `${BPF_TEST_FILE} is gone: update BPF_TEST_FILE`).toBe(true);
  });

  it('fails under TLD_REQUIRE_BPF=1, with the failure reported and nothing skipped', () => {
    const run = runWithoutBpf('required', '1');
    expect(run.status, run.output).not.toBe(0);
    expect(run.output).toContain('bpf() was refused');
    const summary = run.summary(true);
    expect(summary.failed, run.output).toBeGreaterThan(0);
    expect(summary.skipped).toBe(0);
    expect(summary.problems.join('\n')).not.toContain('no test report');
    expect(closingLine(summary)).toMatch(/^0 passed, [1-9]\d* failed, 0 skipped$/);
  });

  it('skips without TLD_REQUIRE_BPF, and the closing summary fails on those skips under CI only', () => {
    const run = runWithoutBpf('optional', undefined);
    expect(run.status, run.output).toBe(0);

    const local = run.summary(false);
    expect(local.problems).toEqual([]);
    expect(local.skipped, run.output).toBeGreaterThan(0);
    expect(closingLine(local)).toBe(`0 passed, 0 failed, ${local.skipped} skipped`);

    const ci = run.summary(true);
    expect(closingLine(ci)).toBe(closingLine(local));
    expect(ci.problems[0]).toMatch(/^CI is set and \d+ test\(s\) skipped/);
    expect(ci.problems).toHaveLength(1 + ci.skipped);
    for (const line of ci.problems.slice(1)) expect(line).toMatch(new RegExp(`^  ${BPF_TEST_FILE} > .+ > .+`));
  });

  it('the closing summary fails when a package report is missing: its tests never ran', () => {
    const missing = join(work, 'never-written.json');
    const summary = summarize([{ name: '@tld/nothing', report: missing }], {
      ci: false,
      root,
      read: () => undefined,
    });
    expect(summary.problems).toEqual([`@tld/nothing: no test report at ${missing}: its tests never ran`]);
  });
});
