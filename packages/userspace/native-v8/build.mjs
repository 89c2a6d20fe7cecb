// Builds the V8 walk addon once per Node.js ABI it can build without a network: for every Node.js binary package
// under the workspace's .cache/node (tools/setup installs them; each ships include/node), against its own headers,
// into prebuilds/linux-x64/node.abi<ABI>.node, which node-gyp-build picks at run time. V8's C++ API is not stable
// across versions, so one build per ABI; an ABI without a build simply has no walk (run() uses the page mechanism).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
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
// A build/ left behind would be loaded on every ABI (node-gyp-build prefers it): only prebuilds stay.
rmSync(join(here, 'build'), { recursive: true, force: true });
