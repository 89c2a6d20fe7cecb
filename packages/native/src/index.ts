// The one way the project's packages load their native addon: find the file for this machine (node-gyp-build:
// build/Release when built from source, else the matching prebuild), load it, and when either step fails throw a
// TldError with code ERR_TLD_ADDON whose message says how to get a working addon. Also the one shape of map info
// every addon returns (include/tld_napi.h).
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { TldError } from '@tld/protocol';

/** Codes raised by @tld/native. */
export const NativeErrorCode = {
  /** A package's native addon is missing for this machine or failed to load; the message says what to do. */
  ADDON: 'ERR_TLD_ADDON',
} as const;
export type NativeErrorCode = (typeof NativeErrorCode)[keyof typeof NativeErrorCode];

/** What BPF_OBJ_GET_INFO_BY_FD reports about a map (tld_napi::MapInfo). */
export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
  readonly btfId: number;
}

export interface AddonSpec {
  /** The package whose addon this is, e.g. '@tld/userspace': leads every message and names the rebuild command. */
  readonly packageName: string;
  /** The package's directory (where build/Release and prebuilds/ are). */
  readonly packageDir: string;
  /** What the addon is, for messages: 'native addon', 'libbpf loader addon'. */
  readonly what: string;
  /** What a from-source build needs besides python3, make and a C++ compiler, e.g. 'libbpf-dev'. */
  readonly buildNeeds?: string;
  /**
   * Load with RTLD_GLOBAL, so the addon's symbols join the global scope (native libraries loaded later bind to
   * them); default: require(), which loads it RTLD_LOCAL.
   */
  readonly global?: boolean;
  /** A hint more precise than the rebuild hint for an addon that exists but fails to load (a missing library). */
  readonly loadHint?: (error: unknown) => string | undefined;
}

const require = createRequire(import.meta.url);

/** How to get a working addon: the package ships prebuilds for Linux x64 glibc and builds from source elsewhere. */
export function rebuildHint(spec: Pick<AddonSpec, 'packageName' | 'buildNeeds'>): string {
  const needs = ['python3', 'make', 'a C++ compiler', ...(spec.buildNeeds ? [spec.buildNeeds] : [])];
  const needed = `${needs.slice(0, -1).join(', ')} and ${needs[needs.length - 1] ?? ''}`;
  const name = spec.packageName;
  return (
    'The package ships a prebuilt addon for Linux x64 with glibc (prebuilds/linux-x64); elsewhere it builds from ' +
    `source at install, which needs ${needed}. Reinstall it with \`npm rebuild ${name}\` (pnpm: allow its ` +
    `build with \`allowBuilds: { "${name}": true }\` in pnpm-workspace.yaml, then \`pnpm rebuild ${name}\`)`
  );
}

/** The addon file node-gyp-build picks for this machine. Throws TldError ERR_TLD_ADDON when there is none. */
export function addonPath(spec: AddonSpec): string {
  try {
    return (require('node-gyp-build') as { path(dir: string): string }).path(spec.packageDir);
  } catch (error) {
    throw new TldError(
      NativeErrorCode.ADDON,
      `${spec.packageName}: no ${spec.what} for this machine in ${spec.packageDir}. ${rebuildHint(spec)}`,
      { cause: error },
    );
  }
}

/**
 * Loads the package's addon (once per environment: the main thread and each worker load their own). Throws
 * TldError ERR_TLD_ADDON, naming the fix, when no file fits this machine or it fails to load.
 */
export function loadAddon<T>(spec: AddonSpec): T {
  const path = addonPath(spec);
  try {
    if (!spec.global) return require(path) as T;
    const module = { exports: {} };
    const { RTLD_NOW, RTLD_GLOBAL } = constants.dlopen;
    process.dlopen(module, path, (RTLD_NOW ?? 0) | (RTLD_GLOBAL ?? 0));
    return module.exports as T;
  } catch (error) {
    const hint = spec.loadHint?.(error) ?? rebuildHint(spec);
    throw new TldError(
      NativeErrorCode.ADDON,
      `${spec.packageName}: cannot load its ${spec.what} ${path} (${String(error)}). ${hint}`,
      { cause: error },
    );
  }
}
