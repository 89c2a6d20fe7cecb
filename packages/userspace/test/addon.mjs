// The addon file @tld/userspace loads (node-gyp-build picks build/Release, else the prebuild), for the worker and
// peer scripts' checks below the public API (test/fixture.ts loadNative() does the same for the TypeScript tests):
// the same file, so they share the package's per-thread state instead of a second copy of it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** @returns {import('../src/native.js').NativeBinding} */
export function loadAddon() {
  /** @type {unknown} */
  const nodeGypBuild = require('node-gyp-build');
  const path = /** @type {{ path(dir: string): string }} */ (nodeGypBuild).path(
    fileURLToPath(new URL('..', import.meta.url)),
  );
  /** @type {unknown} */
  const binding = require(path);
  return /** @type {import('../src/native.js').NativeBinding} */ (binding);
}
