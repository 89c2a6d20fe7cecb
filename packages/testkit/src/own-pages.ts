// For tests that register pages of their own instead of going through @tld/userspace, as a native library
// following the protocol would: map pages with the test-only addon (native/test-pages.cc), fill them with @tld/protocol,
// register with mapUpdateElem.
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TypedArrayMemory, createKey, dataPageOffset, encodeMapValue, initDataPage, initMetaPage } from '@tld/protocol';
import { MapUpdateFlags, mapDeleteElem, mapUpdateElem } from '@tld/bpf-programs';

interface PagesAddon {
  mapPage(): { buffer: ArrayBuffer; address: bigint };
  unmapPage(buffer: ArrayBuffer): void;
  pidfdOpenThread(): number;
}

const addon = createRequire(import.meta.url)('../build/Release/tld_test_pages.node') as PagesAddon;
const ENOENT = 2;

/** A zero-filled page-aligned page (mmap) that JavaScript reads and writes in place, with its user address. */
export interface OwnPage {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly address: bigint;
}

/** Maps one page. Unmap it only once no map element points at it (PROTOCOL.md §5). */
export function mapPage(): OwnPage {
  const { buffer, address } = addon.mapPage();
  return { buffer, bytes: new Uint8Array(buffer), address };
}

/** Detaches and unmaps a page from mapPage(). */
export function unmapPage(page: OwnPage): void {
  addon.unmapPage(page.buffer);
}

/** A metadata page and a data page, with `start + off` of each key by name. */
export interface OwnPages {
  readonly meta: OwnPage;
  readonly data: OwnPage;
  readonly at: Readonly<Record<string, number>>;
}

export interface KeySpec {
  name: string;
  size: number;
  /** u64 little-endian, or a UTF-8 string NUL-padded to `size` */
  value: bigint | string;
}

/** A metadata page with `keys` created in this order and a data page holding their values. */
export function pagesWith(keys: readonly KeySpec[]): OwnPages {
  const meta = mapPage();
  const data = mapPage();
  initMetaPage(new TypedArrayMemory(meta.buffer));
  initDataPage(data.bytes);
  const at: Record<string, number> = {};
  const pages = { meta, data, at };
  for (const k of keys) at[k.name] = addKey(pages, k);
  return pages;
}

/** Creates key `k` in the pages' metadata page and stores its value; returns `start + off` of the value. */
export function addKey(pages: OwnPages, k: KeySpec): number {
  const pos = dataPageOffset(createKey(new TypedArrayMemory(pages.meta.buffer), k.name, k.size).offset);
  if (typeof k.value === 'bigint') new DataView(pages.data.buffer).setBigUint64(pos, k.value, true);
  else pages.data.bytes.set(new TextEncoder().encode(k.value), pos);
  return pos;
}

/** Unmaps both pages (only after unregister()). */
export function unmapPages(pages: OwnPages): void {
  unmapPage(pages.meta);
  unmapPage(pages.data);
}

function withThreadKey<T>(fn: (key: Uint8Array) => T): T {
  const pidfd = addon.pidfdOpenThread();
  try {
    return fn(new Uint8Array(new Int32Array([pidfd]).buffer));
  } finally {
    closeSync(pidfd);
  }
}

/** Points the calling thread's element of map `mapFd` at `pages` (BPF_ANY: creates or replaces). */
export function register(mapFd: number, pages: OwnPages): void {
  withThreadKey((key) =>
    mapUpdateElem(
      mapFd,
      key,
      encodeMapValue({ data: pages.data.address, meta: pages.meta.address }),
      MapUpdateFlags.ANY,
    ),
  );
}

/** Deletes the calling thread's element; true when it is gone (deleted now, or never there). */
export function unregister(mapFd: number): boolean {
  return withThreadKey((key) => {
    try {
      mapDeleteElem(mapFd, key);
      return true;
    } catch (err) {
      return (err as { errno?: number }).errno === ENOENT;
    }
  });
}
