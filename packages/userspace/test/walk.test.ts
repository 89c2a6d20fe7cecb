// run() by the async-context walk, on every Node.js tools/setup installs under .cache/node: each configuration runs
// test/walk-child.mjs in a fresh process (the walk is per Node ABI, and async_hooks state is per process) and
// reports what a reader sees. Without those binaries the cross-version cases skip, except under TLD_REQUIRE_BPF=1.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedNodes, runNodeScript } from '@tld/testkit';
import { TaskLocalData, UserspaceErrorCode } from '../src/index.js';
import { type PinnedMaps, loadFixtureMaps, packageDir } from './fixture.js';

/** Node.js binaries under .cache/node (or $TLD_NODE_CACHE, laid out the same way), by major version. */
const nodes = new Map(installedNodes().map((node) => [node.major, node.bin]));
const required = process.env['TLD_REQUIRE_BPF'] === '1';

interface Report {
  openError?: { code: string; message: string };
  asyncContext?: string;
  reason?: string | null;
  pageRun?: string;
  facts?: Record<string, number | string>;
  outside?: string;
  checkpoints?: number;
  wrong?: string[];
  wrongCount?: number;
  between?: string[];
  after?: string;
  threadValues?: unknown[];
  pageThreadValues?: string[];
  pageAfter?: string;
  endedValid?: number[];
  syncValidAfter?: number;
  corrupted?: string[];
  byAddress?: string[];
  worker?: Report;
  asyncHooks?: number;
  promiseHooks?: number;
}

let maps: PinnedMaps;
beforeAll(() => {
  maps = loadFixtureMaps();
});
afterAll(() => maps?.remove());

function child(bin: string, flags: string[], mode: string): Report {
  const result = spawnSync(
    bin,
    ['--expose-internals', '--expose-gc', '--no-warnings', ...flags, join(packageDir, 'test', 'walk-child.mjs')],
    {
      env: { ...process.env, PIN: maps.pin('tld_data_map'), ASYNC_CONTEXT: mode, NODE_OPTIONS: '' },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (result.status !== 0)
    throw new Error(`walk-child on ${bin} ${flags.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout) as Report;
}

const WALK_CONFIGS = [
  { major: 22, flags: ['--experimental-async-context-frame'] },
  { major: 24, flags: [] },
  { major: 26, flags: [] },
];
const PAGE_CONFIGS = [
  { major: 22, flags: [] },
  { major: 24, flags: ['--no-async-context-frame'] },
];

/** The checks of one thread's report (the main thread's, or its worker's). */
function expectWalkReport(report: Report, where: string): void {
  expect(report.asyncContext, where).toBe('walk');
  const facts = report.facts as Record<string, number | string>;
  expect(facts['version']).toBe(2);
  expect(facts['alsAddress'], `${where}: the GC callbacks published the AsyncLocalStorage's address`).not.toBe('0');
  // The layout every official 64-bit Node build has had so far; found and verified at run time, not assumed.
  expect({
    ...facts,
    cpedSlot: 0,
    noFrame: 0,
    alsHash: 0,
    recordMagic: 0,
    storeRecordOff: 0,
    alsAddress: 0,
  }).toEqual({
    version: 2,
    cpedSlot: 0,
    noFrame: 0,
    alsHash: 0,
    recordMagic: 0,
    keyHashOff: 8,
    frameTableOff: 24,
    tableNelementsOff: 16,
    tableNdeletedOff: 24,
    tableNbucketsOff: 32,
    tableBucketsOff: 40,
    entryWords: 3,
    entryKey: 0,
    entryValue: 1,
    entryChain: 2,
    storeRecordOff: 0,
    alsAddress: 0,
  });
  expect(report.outside, `${where}: before any run the reader uses the page`).toBe('page');
  // 64 interleaved runs × 10 checkpoints, each read by the walk and checked against the run's values.
  expect(report.checkpoints).toBe(640);
  expect(report.wrong, where).toEqual([]);
  expect(report.wrongCount).toBe(0);
  expect(report.between, `${where}: between callbacks, outside every run`).toEqual(['page']);
  expect(report.after).toBe('page');
  // The page kept the thread's own values all along: run() and set() inside runs never wrote it.
  expect(report.threadValues).toEqual(['7', '/thread', 5]);
  expect(report.pageThreadValues).toEqual(['7']);
  expect(report.pageAfter).toBe('7');
  expect(report.endedValid, `${where}: a run that ended clears valid`).toEqual([0]);
  expect(report.syncValidAfter).toBe(0);
  // Corrupted facts (identity hash, table offset, store offset, bucket offset, key hash offset): never a record.
  expect(
    report.corrupted?.slice(0, 5).every((kind) => kind !== 'record'),
    JSON.stringify(report.corrupted),
  ).toBe(true);
  expect(report.corrupted?.[5], 'the untouched facts still reach the record').toBe('record');
  expect(report.byAddress, `${where}: after GCs the published address alone finds our entry`).toEqual([
    'record',
    'record',
    'record',
  ]);
}

describe('run() by the async-context walk, on Node.js with AsyncContextFrame', () => {
  for (const { major, flags } of WALK_CONFIGS) {
    const bin = nodes.get(major);
    it.skipIf(!bin && !required)(
      `Node ${major} ${flags.join(' ')}: facts in the page, the walk reaches each run's record, no hooks`,
      () => {
        if (!bin) throw new Error(`no Node.js ${major} under .cache/node: run tools/setup`);
        const report = child(bin, flags, 'auto');
        expectWalkReport(report, `Node ${major} main thread`);
        expectWalkReport(report.worker as Report, `Node ${major} worker`);
        // Each thread its own Isolate: its own CPED slot, its own AsyncLocalStorage.
        expect(report.worker?.facts?.['cpedSlot']).not.toBe(report.facts?.['cpedSlot']);
        // Nobody set an async hook or a V8 promise hook in the whole process.
        expect(report.asyncHooks).toBe(0);
        expect(report.promiseHooks).toBe(0);
      },
      180_000,
    );
    it.skipIf(!bin && !required)(
      `Node ${major} ${flags.join(' ')}: 32 workers starting together each find and verify their own walk`,
      () => {
        if (!bin) throw new Error(`no Node.js ${major} under .cache/node: run tools/setup`);
        const result = runNodeScript<{ workers: number; found: number; failures: string[] }>(
          { label: `Node ${major}`, bin, args: flags },
          join(packageDir, 'test', 'discovery-child.mjs'),
          { WORKERS: '32', NODE_OPTIONS: '' },
        );
        expect(result.failures).toEqual([]);
        expect(result).toEqual({ workers: 32, found: 32, failures: [] });
      },
      180_000,
    );
  }
});

describe('where the walk is unavailable', () => {
  for (const { major, flags } of PAGE_CONFIGS) {
    const bin = nodes.get(major);
    it.skipIf(!bin && !required)(
      `Node ${major} ${flags.join(' ') || '(defaults)'}: 'auto' uses the page mechanism and says why; 'walk' throws ERR_TLD_NO_WALK`,
      () => {
        if (!bin) throw new Error(`no Node.js ${major} under .cache/node: run tools/setup`);
        const auto = child(bin, flags, 'auto');
        expect(auto.asyncContext).toBe('page');
        expect(auto.reason).toMatch(/without AsyncContextFrame/);
        expect(auto.pageRun).toBe('3');
        // The page mechanism is the one with hooks.
        expect(auto.promiseHooks! + auto.asyncHooks!).toBeGreaterThan(0);
        const walk = child(bin, flags, 'walk');
        expect(walk.openError?.code).toBe(UserspaceErrorCode.NO_WALK);
        expect(walk.openError?.message).toMatch(/without AsyncContextFrame.*asyncContext: 'auto'/);
      },
      120_000,
    );
  }

  it(`on this process's Node.js ${process.version}: the same, and a bad asyncContext option is a coded TypeError`, () => {
    const pinPath = maps.pin('tld_data_map');
    const bad = (asyncContext: unknown): unknown => {
      try {
        TaskLocalData.open({ pinPath, asyncContext } as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const value of ['fast', 1, null, {}]) {
      const error = bad(value) as { code?: string; message?: string };
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
      expect(error.message).toMatch(/asyncContext must be 'auto', 'walk' or 'page'/);
    }
    const page = TaskLocalData.open({ pinPath, asyncContext: 'page' });
    expect([page.asyncContext, page.asyncContextReason]).toEqual(['page', undefined]);
    page.close();
    const auto = TaskLocalData.open({ pinPath });
    if (Number(process.versions.node.split('.')[0]) < 22) {
      expect(auto.asyncContext).toBe('page');
      expect(auto.asyncContextReason).toMatch(/without AsyncContextFrame/);
      const walk = bad('walk') as { code?: string };
      expect(walk.code).toBe(UserspaceErrorCode.NO_WALK);
    }
    auto.close();
  });
});
