// A native library built like the Linux selftests' task_local_data.h (test/peer/tld_peer.c, written from
// PROTOCOL.md) shares the process with @tld/userspace: both load orders, RTLD_LOCAL and RTLD_GLOBAL, u8 and u16
// cnt, malloc'd and page-aligned blocks, 16- and 24-byte map values, main thread and workers, and what BPF reads
// of both sides afterwards. Load order is per process, so every scenario runs in a fresh one (test/peer/*.mjs).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ProtocolErrorCode } from '@tld/protocol';
import { loadReader, type Reader } from '@tld/bpf-programs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '../src/index.js';
import { type PeerBuild, type PinnedMaps, buildPeerLibrary, loadFixtureMaps, packageDir } from './fixture.js';

type Report = Record<string, unknown>;
interface BpfView {
  registered: boolean;
  start?: string;
  valueStart?: number;
  metaSize?: number;
  values: Record<string, string | undefined>;
}

let maps: PinnedMaps;
const builds = new Map<string, string>();

function peer(build: PeerBuild): string {
  const key = JSON.stringify(build);
  let path = builds.get(key);
  if (!path) builds.set(key, (path = buildPeerLibrary(build)));
  return path;
}

const reports = new Map<string, Report>();

/** Runs test/peer/<script>.mjs in a fresh process and returns its report (one run per script and arguments). */
function scenario(script: string, args: Record<string, unknown>): Report {
  const key = `${script} ${JSON.stringify(args)}`;
  let report = reports.get(key);
  if (!report) {
    const pins = { v1: maps.pin('tld_data_map'), v2: maps.pin('tld_data_map_v2') };
    const out = execFileSync(
      process.execPath,
      [join(packageDir, 'test/peer', `${script}.mjs`), JSON.stringify({ ...args, pins })],
      {
        encoding: 'utf8',
      },
    );
    reports.set(key, (report = JSON.parse(out) as Report));
  }
  return report;
}

beforeAll(() => {
  maps = loadFixtureMaps();
});
afterAll(() => maps?.remove());

describe('the library loaded after @tld/userspace binds to our tld_meta_p and tld_data_p', () => {
  it.each([
    ['RTLD_LOCAL', 'local', false],
    ['RTLD_GLOBAL', 'global', false],
    ['RTLD_LOCAL, u8 cnt', 'local', true],
  ] as const)(
    '%s: one page for both, static keys bounded by the page, BPF reads both sides after close()',
    (_, flags, cntU8) => {
      const r = scenario('tld-first', { peerPath: peer({ staticKeys: true, cntU8 }), flags });
      expect(r['cntBytes']).toBe(cntU8 ? 1 : 2);
      expect(r['sharedMeta']).toBe(true);
      expect(r['sharedData']).toBe(true);
      // Its static keys were created in our metadata page while it loaded, each growing meta.size past data[]:
      // the next key creation lowers it back, so neither side can hand out a key past the page.
      expect(r['metaSizeBeforeLoad']).toBe(4088);
      expect(r['metaSizeAfterLoad']).toBe(4088 + 8 + 16);
      expect(r['metaSizeAfterKey']).toBe(4088);
      expect(r['staticKeys']).toEqual({ peer_static_id: 8, peer_static_tag: 16 });
      expect(r['peerPastPage']).toBe(-7); // -E2BIG: it would have fit the raised meta.size
      expect(r['jsPastPage']).toBe(ProtocolErrorCode.TOO_BIG);
      expect(r['keysAfter']).toEqual(['js_req', 'peer_static_id', 'peer_static_tag', 'js_late', 'peer_dyn']);
      expect(r['peerExists']).toBe(-17); // -EEXIST: upstream cannot look a key up
      // tld_data_p was ours, so the library registered nothing itself.
      expect(r['peerRegistrations']).toBe(0);
      // close() left the page mapped and registered: the pointer the library kept still works, BPF sees it all.
      expect(r['afterClose']).toEqual({
        registered: true,
        start: '8',
        metaCnt: 5,
        metaSize: 4088,
        values: { js_req: '1001', js_late: '1002', peer_static_id: '2002', peer_dyn: '4004' },
      });
      expect(r['registrationsAfterClose']).toBe(1);
      // A worker where we open first: the library writes into our page.
      expect(r['workerTldThenPeer']).toMatchObject({
        peerSet: 0,
        shared: true,
        peerRegistrationsAfter: 0,
        bpf: { registered: true, values: { js_req: '5005', peer_static_id: '6006' } },
      });
      // A worker where the library writes first: its first access allocates a block (a whole page, as our
      // meta.size asks for one) and registers with BPF_ANY; we adopt the block and share its element.
      expect(r['workerPeerThenTld']).toMatchObject({
        peerSet: 0,
        peerRegistered: 1,
        blockPageOffset: 0,
        open: { code: 'none' },
        registrations: 1,
        adopted: true,
        before: { registered: true, values: { peer_static_id: '7007', js_req: '0' } },
        after: { registered: true, values: { peer_static_id: '7007', js_req: '8008' } },
      });
    },
  );
});

describe('the library loaded before @tld/userspace with RTLD_GLOBAL: we bind to its symbols and adopt its pages', () => {
  it('page-aligned blocks (its aligned-allocation option): we share its element; BPF reads both sides', () => {
    const r = scenario('peer-first', {
      peerPath: peer({ staticKeys: true, alignedAlloc: true }),
      flags: 'global',
      valueSize: 16,
    });
    expect(r['peerRegistrations']).toBe(1); // BPF_ANY on its first data access
    expect(r['blockPageOffset']).toBe(0);
    expect(r['open']).toEqual({ code: 'none' });
    expect(r['twoMetaPages']).toBe(false);
    expect(r['metaOwned']).toBe(false);
    expect(r['adopted']).toBe(true);
    expect(r['registrations']).toBe(1); // its element, shared untouched: BPF_NOEXIST met EEXIST
    expect(r['peerRegistrationsAfter']).toBe(1);
    // Its page: 64 bytes of dynamic room plus its static keys.
    expect(r['metaHeader']).toEqual({ cnt: 2, size: 64 + 8 + 16 });
    expect(r['jsTooBig']).toBe(ProtocolErrorCode.TOO_BIG);
    expect(r['after']).toMatchObject({
      registered: true,
      start: '8',
      values: { js_req: '2222', peer_static_id: '1111' },
    });
    expect(r['workerTldThenPeer']).toMatchObject({
      shared: true,
      bpf: { registered: true, values: { js_req: '5005', peer_static_id: '6006' } },
    });
    expect(r['workerPeerThenTld']).toMatchObject({
      peerRegistered: 1,
      open: { code: 'none' },
      adopted: true,
      after: { registered: true, values: { js_req: '8008', peer_static_id: '7007' } },
    });
  });

  it('a metadata page of its whose header is inconsistent is refused, and left byte-for-byte alone', () => {
    const r = scenario('peer-first', {
      peerPath: peer({ staticKeys: true, alignedAlloc: true }),
      flags: 'global',
      valueSize: 16,
    });
    expect(r['badCnt']).toMatchObject({
      code: ProtocolErrorCode.BAD_LAYOUT,
      message: expect.stringContaining('cnt is 200') as unknown,
    });
    expect(r['badCntOpen']).toBe(ProtocolErrorCode.BAD_LAYOUT);
    expect(r['badSize']).toBe(ProtocolErrorCode.BAD_LAYOUT);
    expect(r['pageUnchanged']).toBe(true);
  });

  it("malloc'd blocks with the 16-byte value: BAD_LAYOUT naming the block's page offset and the fixes; its element left alone", () => {
    const r = scenario('peer-first', { peerPath: peer({ staticKeys: true }), flags: 'global', valueSize: 16 });
    const offset = r['blockPageOffset'] as number;
    expect(offset).toBeGreaterThan(0);
    const open = r['open'] as { code: string; message: string };
    expect(open.code).toBe(ProtocolErrorCode.BAD_LAYOUT);
    expect(open.message).toContain(`at page offset ${offset}`);
    expect(open.message).toContain('first 8 bytes of the page');
    expect(open.message).toContain('24-byte value');
    expect(open.message).toContain('TLD_DATA_USE_ALIGNED_ALLOC');
    expect(r['registrations']).toBe(0);
    expect(r['peerRegistrationsAfter']).toBe(1);
    expect(r['after']).toEqual(r['before']); // what BPF sees of the thread did not change
    expect(r['workerPeerThenTld']).toMatchObject({
      peerRegistered: 1,
      open: { code: ProtocolErrorCode.BAD_LAYOUT },
      registrations: 0,
    });
    // Where we open first, the library uses our page-aligned page and BPF reads both.
    expect(r['workerTldThenPeer']).toMatchObject({
      bpf: { registered: true, values: { js_req: '5005', peer_static_id: '6006' } },
    });
  });

  it("malloc'd blocks with the 24-byte value (start in the value), u8 cnt: registered from the page base; BPF reads both sides", () => {
    const r = scenario('peer-first', {
      peerPath: peer({ staticKeys: true, valueV2: true, cntU8: true }),
      flags: 'global',
      valueSize: 24,
    });
    expect(r['cntBytes']).toBe(1);
    const offset = r['blockPageOffset'] as number;
    expect(offset).toBeGreaterThan(0);
    expect(r['open']).toEqual({ code: 'none' });
    expect(r['adopted']).toBe(true);
    expect(r['before']).toMatchObject({ registered: true, valueStart: offset + 8, values: { peer_static_id: '1111' } });
    expect(r['after']).toMatchObject({
      registered: true,
      valueStart: offset + 8,
      values: { js_req: '2222', peer_static_id: '1111' },
    });
    expect(r['peerGet']).toBe('1111');
    const worker = r['workerPeerThenTld'] as { blockPageOffset: number; after: BpfView };
    expect(worker).toMatchObject({ peerRegistered: 1, open: { code: 'none' }, adopted: true });
    expect(worker.after).toMatchObject({
      valueStart: worker.blockPageOffset + 8,
      values: { js_req: '8008', peer_static_id: '7007' },
    });
    expect(r['workerTldThenPeer']).toMatchObject({
      bpf: { valueStart: 8, values: { js_req: '5005', peer_static_id: '6006' } },
    });
  });
});

describe('the library loaded before @tld/userspace with RTLD_LOCAL: two metadata pages in the process', () => {
  it('ERR_TLD_FOREIGN_REGISTRATION on a thread it registered, which BPF keeps reading; a thread it never touched works', () => {
    const r = scenario('peer-first', {
      peerPath: peer({ staticKeys: true, alignedAlloc: true }),
      flags: 'local',
      valueSize: 16,
    });
    expect(r['twoMetaPages']).toBe(true);
    const open = r['open'] as { code: string; message: string };
    expect(open.code).toBe('ERR_TLD_FOREIGN_REGISTRATION');
    expect(open.message).toContain('RTLD_LOCAL');
    expect(open.message).toContain('load @tld/userspace before that library');
    expect(open.message).toContain('RTLD_GLOBAL');
    expect(r['registrations']).toBe(0);
    expect(r['before']).toMatchObject({ registered: true, values: { peer_static_id: '1111' } });
    expect(r['after']).toEqual(r['before']);
    expect(r['workerPeerThenTld']).toMatchObject({
      open: { code: 'ERR_TLD_FOREIGN_REGISTRATION' },
      registrations: 0,
      adopted: false,
    });
    // We register a worker first: the library, unaware, registers its own block there on its first access and
    // replaces ours (BPF_ANY): what the load-order advice in the error prevents.
    expect(r['workerTldThenPeer']).toMatchObject({
      shared: false,
      peerRegistrationsAfter: 2,
      bpf: { registered: true, metaSize: 88, values: { peer_static_id: '6006' } },
    });
  });
});

describe('pages installed as tld_data_p by other native code', () => {
  let reader: Reader;
  beforeAll(() => {
    reader = loadReader({ map: { pinPath: maps.pin('tld_data_map') } });
    TaskLocalData.open({ pinPath: maps.pin('tld_data_map') }).close(); // @tld/userspace loaded: the library binds to it
  });
  afterAll(() => reader?.close());

  function installed(kind: string): Promise<Report> {
    const worker = new Worker(join(packageDir, 'test/peer/worker.mjs'), {
      workerData: {
        mode: 'installed',
        kind,
        peerPath: peer({}),
        flags: 'local',
        pin: maps.pin('tld_data_map'),
        valueSize: 16,
        progFd: reader.progFd,
        names: ['fits_in_foreign_page'],
      },
    });
    return new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }

  it('a page-aligned page with start 64: used in place; a key past its end fails BAD_LAYOUT before claiming a slot', async () => {
    const r = await installed('start64');
    expect(r['open']).toEqual({ code: 'none' });
    expect(r['ours']).toBe(r['installed']);
    expect(r['registrations']).toBe(1);
    expect(r['tooFar']).toBe(ProtocolErrorCode.BAD_LAYOUT);
    const tld = TaskLocalData.open({ pinPath: maps.pin('tld_data_map') });
    const keys = tld.keys();
    tld.close();
    expect(keys.find((k) => k.name === 'past_the_end')).toBeUndefined(); // refused before a slot was claimed
    expect(r['fitsOffset']).toBe(keys.find((k) => k.name === 'fits_in_foreign_page')?.offset);
    // BPF reads start (64) from the page itself and finds the value there.
    expect(r['bpf']).toMatchObject({ registered: true, start: 64n, values: { fits_in_foreign_page: 0xfeedn } });
  });

  it('a read-only page: the kernel cannot pin it (EFAULT), BAD_LAYOUT naming the cause, nothing registered', async () => {
    const r = await installed('readonly');
    expect(r['open']).toMatchObject({
      code: ProtocolErrorCode.BAD_LAYOUT,
      message: expect.stringContaining('read-only or unmapped') as unknown,
    });
    expect(r['registrations']).toBe(0);
  });
});
