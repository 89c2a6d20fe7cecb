// Helpers for @tld/userspace's own tests. The BPF maps they open are @tld/testkit's fixtures (pinFixtureMaps():
// every map of tld_fixtures.bpf.o pinned 0600 in a fresh directory, so TaskLocalData.open() has no reason to warn).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypedArrayMemory, initDataPage, initMetaPage, layoutFor } from '@tld/protocol';
import type { NativeBinding } from '../src/native.js';

const here = dirname(fileURLToPath(import.meta.url));
export const packageDir = dirname(here);
const require = createRequire(import.meta.url);

export { type PinnedMaps, pinFixtureMaps as loadFixtureMaps, pinHashMap } from '@tld/testkit';

/** What TaskLocalData.open() does to a page the addon creates (@tld/protocol fills it), for direct native calls. */
export const initPage = {
  meta: (page: ArrayBuffer): void => initMetaPage(new TypedArrayMemory(page), layoutFor(new Uint8Array(page).length)),
  data: (page: ArrayBuffer): void => initDataPage(new Uint8Array(page)),
};

/**
 * The addon file the package loads (node-gyp-build: build/Release, else prebuilds/linux-x64). Tests load that same
 * file, so that they share the package's per-thread state instead of a second copy of it.
 */
export const addonPath: string = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);

/** The native addon, for checks below the public API. */
export function loadNative(): NativeBinding {
  const binding: unknown = require(addonPath);
  return binding as NativeBinding;
}

/** Map fds this process holds (each registration keeps a dup). */
export function countMapFds(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf-map') count++;
    } catch {
      // the fd readdir itself used is gone by now
    }
  }
  return count;
}

/** The `code` of the error `fn` throws; fails the test when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  throw new Error('expected a throw');
}

/** Build options of the peer library (test/peer/tld_peer.h). */
export interface PeerBuild {
  /** u8 meta.cnt, as merged in 6.18 (default: u16). */
  readonly cntU8?: boolean;
  /** Page-aligned data blocks (default: malloc, usually not page-aligned). */
  readonly alignedAlloc?: boolean;
  /** 24-byte map value carrying start. */
  readonly valueV2?: boolean;
  /** Two static keys created at load time. */
  readonly staticKeys?: boolean;
}

/**
 * Builds the peer library (test/peer/tld_peer.c, a C library written from PROTOCOL.md that behaves like the Linux
 * selftests' task_local_data.h, with its Node-API functions in peer_napi.c) with the host C compiler; returns the
 * path of the .node file. Every build gets its own file, so one process can load two builds.
 */
export function buildPeerLibrary(build: PeerBuild = {}): string {
  const flags = [
    build.cntU8 ? '-DPEER_CNT_U8' : '',
    build.alignedAlloc ? '-DPEER_ALIGNED_ALLOC' : '',
    build.valueV2 ? '-DPEER_VALUE_V2' : '',
    build.staticKeys ? '-DPEER_STATIC_KEYS' : '',
  ].filter((flag) => flag !== '');
  const out = join(mkdtempSync(join(tmpdir(), 'tld-peer-')), 'peer.node');
  const include = dirname(require.resolve('@tld/protocol/include/tld_layout.h'));
  execFileSync('cc', [
    '-shared',
    '-fPIC',
    '-fvisibility=hidden',
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    ...flags,
    `-I${nodeIncludeDir()}`,
    `-I${include}`,
    join(here, 'peer', 'tld_peer.c'),
    join(here, 'peer', 'peer_napi.c'),
    '-o',
    out,
  ]);
  return out;
}

/** Node's headers, where the addon build found them (node-gyp --nodedir=/usr). */
function nodeIncludeDir(): string {
  return join(dirname(dirname(process.execPath)), 'include', 'node');
}
