// The workspace's closing line for `pnpm test`, from the JSON report each package's vitest writes. Under CI a run
// that skipped a test, or in which a package's tests never ran, is a failure: CI must not go green by not testing.

/** Where each package's vitest config writes its JSON report, relative to the package directory. */
export const REPORT_FILE = '.vitest/results.json';

/**
 * The parts of a vitest JSON report (vitest's JsonReporter) read here.
 * @typedef {{ ancestorTitles: string[], title: string, status: string }} AssertionResult
 * @typedef {{ name: string, status: string, message: string, assertionResults: AssertionResult[] }} FileResult
 * @typedef {{ testResults: FileResult[] }} VitestReport
 */

/**
 * @typedef {object} Summary
 * @property {number} passed
 * @property {number} failed tests that failed, plus test files that failed without a failing test (an import threw)
 * @property {number} skipped tests vitest did not run: skipped, pending and todo
 * @property {string[]} problems one line each, naming what made the run fail besides failed tests; empty when none
 */

/** Statuses vitest's JSON reporter gives a test that did not run. */
const NOT_RUN = new Set(['skipped', 'pending', 'todo']);

/**
 * True when the environment says this is CI: `CI` set to anything but '', 'false' or '0'.
 * @param {NodeJS.ProcessEnv} env
 */
export function isCI(env) {
  const ci = env['CI'];
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** A test file's path relative to `root` (vitest reports absolute paths). */
function relativeTo(/** @type {string} */ root, /** @type {string} */ file) {
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

/**
 * Sums the reports of the packages whose tests ran. A missing report is a problem (that package's tests never
 * ran), and so, when `ci` is true, is every skipped test, each named by file and title.
 * @param {{ name: string, report: string }[]} packages each package's name and the path of its JSON report
 * @param {{ ci: boolean, root: string, read: (path: string) => string | undefined }} options `read` returns a
 *   file's text, or undefined when it does not exist; `root` is stripped from the file names printed
 * @returns {Summary}
 */
export function summarize(packages, { ci, root, read }) {
  let passed = 0;
  let failed = 0;
  /** @type {string[]} */
  const skippedNames = [];
  /** @type {string[]} */
  const problems = [];
  for (const pkg of packages) {
    const text = read(pkg.report);
    if (text === undefined) {
      problems.push(`${pkg.name}: no test report at ${pkg.report}: its tests never ran`);
      continue;
    }
    /** @type {unknown} */
    const parsed = JSON.parse(text);
    const report = /** @type {VitestReport} */ (parsed);
    for (const file of report.testResults) {
      let failedHere = 0;
      for (const test of file.assertionResults) {
        if (test.status === 'passed') passed++;
        else if (test.status === 'failed') failedHere++;
        else if (NOT_RUN.has(test.status)) {
          skippedNames.push([relativeTo(root, file.name), ...test.ancestorTitles, test.title].join(' > '));
        }
      }
      if (file.status === 'failed' && failedHere === 0) {
        // The file failed outside its tests: an import, a top-level statement or a hook threw.
        failedHere = 1;
        problems.push(`${relativeTo(root, file.name)} failed outside its tests: ${file.message.split('\n')[0]}`);
      }
      failed += failedHere;
    }
  }
  if (ci && skippedNames.length > 0) {
    problems.push(
      `CI is set and ${skippedNames.length} test(s) skipped; under CI every test must run ` +
        '(TLD_REQUIRE_BPF=1 makes BPF tests fail instead of skipping). Skipped:',
      ...skippedNames.map((name) => `  ${name}`),
    );
  }
  return { passed, failed, skipped: skippedNames.length, problems };
}

/** @param {Summary} summary */
export function closingLine(summary) {
  return `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`;
}
