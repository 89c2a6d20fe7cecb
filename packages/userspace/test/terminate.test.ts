// worker.terminate() stops JavaScript between any two statements. A worker stopped after claiming a metadata slot
// but before publishing it would leave the slot unpublished for good, and every later creator in the process would
// fail on it. MetaPageMemory claims and publishes in one native call (claimSlot), so no termination can split them.
// The worker stops itself right after its claim and main terminates it there: no timing involved.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ProtocolErrorCode,
  TypedArrayMemory,
  createKey,
  initMetaPage,
  layoutFor,
  listKeys,
  readMetaHeader,
  slotValueSizeOffset,
} from '@tld/protocol';
import { describe, expect, it } from 'vitest';
import { codeOf, packageDir } from './fixture.js';

const PAGE_SIZE = 4096;

/** Runs terminate-worker.mjs over a fresh metadata page and terminates it right after it claimed its slot. */
async function terminateAfterClaim(memory: 'native' | 'js'): Promise<{ page: TypedArrayMemory; exitCode: number }> {
  const buffer = new SharedArrayBuffer(PAGE_SIZE);
  const page = new TypedArrayMemory(buffer);
  initMetaPage(page, layoutFor(PAGE_SIZE));
  createKey(page, 'before', 8); // slot 0; the worker's key takes slot 1
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(join(packageDir, 'test', 'terminate-worker.mjs'), {
    workerData: { buffer, gate, memory, name: 'claimed_by_worker', size: 12 },
  });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before it claimed a slot`)));
  });
  // The worker has claimed its slot and blocks until terminated (or it failed before that).
  await Promise.race([expect.poll(() => Atomics.load(gate, 0), { timeout: 20_000 }).toBe(1), failed]);
  worker.removeAllListeners('exit').removeAllListeners('error');
  const exitCode = await worker.terminate();
  return { page, exitCode };
}

describe('a worker terminated right after claiming a metadata slot', () => {
  it('with MetaPageMemory (native claimSlot) leaves the slot published: name and size written with the claim', async () => {
    const { page, exitCode } = await terminateAfterClaim('native');
    expect(exitCode).toBe(1); // terminated, not finished
    expect(readMetaHeader(page).cnt).toBe(2);
    expect(page.load16(slotValueSizeOffset(1))).toBe(12);
    expect(listKeys(page)).toEqual([
      { name: 'before', index: 0, offset: 0, size: 8 },
      { name: 'claimed_by_worker', index: 1, offset: 8, size: 12 },
    ]);
    // Later creators go on: they find the worker's key and place theirs after it.
    expect(createKey(page, 'claimed_by_worker', 12, { publishTimeoutMs: 20 })).toMatchObject({
      index: 1,
      created: false,
    });
    expect(createKey(page, 'after', 8, { publishTimeoutMs: 20 })).toMatchObject({
      index: 2,
      offset: 24,
      created: true,
    });
  });

  it('with plain Atomics (no claimSlot) the same stop leaves the slot unpublished, which later creators report', async () => {
    // The control: the stop point is real, so only the single native step keeps the slot above consistent.
    const { page, exitCode } = await terminateAfterClaim('js');
    expect(exitCode).toBe(1);
    expect(readMetaHeader(page).cnt).toBe(2);
    expect(page.load16(slotValueSizeOffset(1))).toBe(0);
    expect(listKeys(page).map((k) => k.name)).toEqual(['before']);
    expect(codeOf(() => createKey(page, 'after', 8, { publishTimeoutMs: 20 }))).toBe(
      ProtocolErrorCode.SLOT_NEVER_PUBLISHED,
    );
  });
});
