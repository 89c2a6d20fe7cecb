// `pnpm test`: runs every package's tests through turbo, then prints one closing line for the whole workspace
// ("N passed, N failed, N skipped") from the JSON report each package's vitest writes to .vitest/results.json.
// Arguments go to `turbo run test` (`pnpm test --filter=@tld/protocol`). Exits non-zero when turbo did, when a
// package's tests never ran (no report), and, under CI, when any test was skipped (test-summary.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPORT_FILE, closingLine, isCI, summarize } from './test-summary.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const args = process.argv.slice(2);

/** The packages turbo will run a test script in for these arguments (its dry run's plan). */
function plannedTestPackages() {
  // --dry=json before the caller's arguments: anything after their `--` goes to vitest.
  const dry = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--dry=json', ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (dry.status !== 0) {
    console.log(`turbo run test --dry=json ${args.join(' ')} failed (status ${dry.status})`);
    process.exit(dry.status ?? 1);
  }
  /** @typedef {{ tasks: { task: string, package: string, directory: string, command: string }[] }} DryRun */
  /** @type {unknown} */
  const parsed = JSON.parse(dry.stdout);
  const plan = /** @type {DryRun} */ (parsed);
  return plan.tasks
    .filter((t) => t.task === 'test' && t.command !== '<NONEXISTENT>')
    .map((t) => ({ name: t.package, report: join(root, t.directory, REPORT_FILE) }));
}

const packages = plannedTestPackages();
for (const pkg of packages) rmSync(pkg.report, { force: true });

const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1', ...args], {
  cwd: root,
  stdio: 'inherit',
});

const summary = summarize(packages, {
  ci: isCI(process.env),
  root,
  read: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
});
if (summary.problems.length > 0) console.log(`\n${summary.problems.join('\n')}`);
console.log(`\n${closingLine(summary)}`);
process.exit(turbo.status !== 0 ? (turbo.status ?? 1) : summary.problems.length > 0 ? 1 : 0);
