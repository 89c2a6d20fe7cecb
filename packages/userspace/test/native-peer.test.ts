// Native code in the same process shares the protocol's pages with @tld/userspace through the symbols of
// PROTOCOL.md §4, whichever side comes first; pages installed by others are used as they are or refused
// with BAD_LAYOUT before anything changes.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ProtocolErrorCode } from '@tld/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '../src/index.js';
import { type PinnedMaps, buildPeerLibrary, loadFixtureMaps, loadNative, packageDir } from './fixture.js';

interface Peer {
  metaPageAddress(): bigint;
  dataPageAddress(): bigint;
  readU64(name: string): bigint | undefined;
}

const native = loadNative();

function runWorker<T>(workerData: Record<string, unknown>): Promise<T> {
  const worker = new Worker(join(packageDir, 'test', 'peer-worker.mjs'), { workerData });
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('native libraries sharing the pages', () => {
  let maps: PinnedMaps;
  let peerPath: string;
  beforeAll(() => {
    maps = loadFixtureMaps();
    peerPath = buildPeerLibrary();
  });
  afterAll(() => maps?.remove());

  it('a library loaded after @tld/userspace (RTLD_LOCAL) binds to our tld_meta_p and tld_data_p', () => {
    const tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    tld.u64('shared_with_c').set(77n);
    // require() loads with RTLD_LOCAL: the peer still resolves the symbols in the global scope, where ours are.
    const peer = createRequire(import.meta.url)(peerPath) as Peer;
    expect(peer.metaPageAddress()).not.toBe(0n);
    expect(peer.metaPageAddress()).toBe(native.metaPageAddress());
    expect(peer.dataPageAddress()).toBe(native.threadDataPageAddress());
    expect(peer.readU64('shared_with_c')).toBe(77n);
    tld.u64('shared_with_c').set(78n);
    expect(peer.readU64('shared_with_c')).toBe(78n);
    tld.close();
  });

  it('a library that installed the metadata page first: @tld/userspace adopts it', () => {
    const out = execFileSync(process.execPath, [join(packageDir, 'test/fixtures/peer-first.mjs'), peerPath, maps.pin('tld_data_map')], {
      encoding: 'utf8',
    });
    const result = JSON.parse(out) as { peerMeta: string; ourMeta: string; peerRead: string; keys: string[] };
    expect(result.peerMeta).not.toBe('0');
    expect(result.ourMeta).toBe(result.peerMeta);
    expect(result.peerRead).toBe('4242');
    expect(result.keys).toEqual(['set_from_js']);
  });

  it('a foreign data page with a later start: keys past its end fail BAD_LAYOUT before claiming a slot', async () => {
    const reference = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const before = reference.keys();
    const report = await runWorker<{
      installed: bigint;
      ours: bigint;
      opened: boolean;
      registrations: number;
      tooFar: string;
      fitsOffset: number;
      peerRead: bigint;
      afterClose: { ours: bigint; registrations: number };
    }>({ peerPath, pin: maps.pin('tld_data_map'), kind: 0 });
    expect(report.ours).toBe(report.installed); // the worker's tld_data_p is the peer's page
    expect(report.opened).toBe(true);
    expect(report.registrations).toBe(1);
    expect(report.tooFar).toBe(ProtocolErrorCode.BAD_LAYOUT);
    const after = reference.keys();
    // Only the key that fits was added: the refused one claimed nothing.
    expect(after.map((k) => k.name)).toEqual([...before.map((k) => k.name), 'fits_in_foreign_page']);
    expect(report.fitsOffset).toBe(after.at(-1)?.offset);
    // The peer reads data[] from the page's own start (64): the value landed there, not at the usual 8.
    expect(report.peerRead).toBe(0xfeedn);
    // close() unregisters but leaves the page it did not map where it is.
    expect(report.afterClose).toEqual({ ours: report.installed, registrations: 0 });
    reference.close();
  });

  it.each([
    [1, 'not contained in one page', 'EOPNOTSUPP'],
    [2, 'read-only or unmapped', 'EFAULT'],
  ])('a foreign data page the kernel cannot pin (kind %i): BAD_LAYOUT naming the cause, nothing registered', async (kind, text, errno) => {
    const report = await runWorker<{ error: { code: string; message: string; cause: string }; registrations: number }>({
      peerPath,
      pin: maps.pin('tld_data_map'),
      kind,
    });
    expect(report.error.code).toBe(ProtocolErrorCode.BAD_LAYOUT);
    expect(report.error.message).toContain(text);
    expect(report.error.cause).toBe(errno);
    expect(report.registrations).toBe(0);
  });
});
