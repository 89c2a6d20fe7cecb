// The bpftool recipe of the @tld/bpf-programs README, run as written: bpftool 7.1 loads the cgroup example with
// the app's map handed over (`map name tld_data_map pinned`), pins its other maps, attaches it to a cgroup, and
// the map it fills shows the req_id the app published. Nothing is pinned at the host's default path.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PIN_PATH, loadObject, mapInfo, names, objectPaths } from '@tld/bpf-programs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';

const support = bpfSupport();
const CGROUP2_MAGIC = 0x63677270;

function readmeBlocks(): string[] {
  const packageDir = dirname(dirname(createRequire(import.meta.url).resolve('@tld/bpf-programs')));
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Loading with bpftool'),
    readme.indexOf('## What this package builds'),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The cgroup v2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts. */
function cgroup2Root(): string {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (statfsSync(dir).type === CGROUP2_MAGIC) return dir;
    } catch {
      // not mounted here
    }
  }
  throw new Error('no cgroup v2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified: the example needs one');
}

const cleanup: (() => void)[] = [];
afterAll(() => {
  for (const step of cleanup.reverse()) step();
});

describe.skipIf(!support.supported)('README: loading with bpftool', () => {
  it("bpftool loads the example on the pinned map, attaches it to a cgroup, and it reads the app's req_id", async () => {
    const blocks = readmeBlocks();
    expect(blocks).toHaveLength(2);
    const [load = '', read = ''] = blocks;
    expect(load).toContain('map name tld_data_map pinned "$pin" pinmaps');
    expect(read).toContain('bpftool map dump pinned');
    const hostPinBefore = existsSync(DEFAULT_PIN_PATH);

    const pin = uniquePinPath('bpftool');
    const map = loadObject(objectPaths.reader, { [names.dataMap]: { pinPath: pin } });
    cleanup.push(() => map.dispose());
    const dir = uniquePinPath('bpftool-prog');
    const cgroup = join(cgroup2Root(), `tld-test-${process.pid}`);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const work = mkdtempSync(join(tmpdir(), 'tld-bpftool-'));
    cleanup.push(() => rmSync(work, { recursive: true, force: true }));
    copyFileSync(objectPaths.bpftoolExample, join(work, 'sock_req_id.bpf.o'));

    const app: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [new URL('./children/socket-on-demand.mjs', import.meta.url).pathname],
      {
        env: { ...process.env, TLD_PIN: pin },
      },
    );
    cleanup.push(() => app.kill());
    const lines = createInterface({ input: app.stdout })[Symbol.asyncIterator]();
    const appPid = Number((await lines.next()).value);
    expect(appPid).toBe(app.pid);

    const env = { ...process.env, TLD_PIN: pin, APP_PID: String(appPid) };
    // The README's own paths, moved to the test's: every other line runs as written.
    const local = (block: string): string =>
      block.replace(/^dir=.*$/m, `dir=${dir}`).replace(/^cgroup=.*$/m, `cgroup=${cgroup}`);
    // The second block goes on in the same shell session as the first: it needs the first's variables.
    const sh = (block: string, vars = ''): string =>
      execFileSync('bash', ['-e', '-c', vars + local(block)], { cwd: work, env, encoding: 'utf8' });
    cleanup.push(() => {
      try {
        execFileSync('bpftool', ['cgroup', 'detach', cgroup, 'sock_create', 'pinned', join(dir, 'sock_req_id')], {
          stdio: 'pipe',
        });
      } catch {
        // detached by the README's second block already
      }
      // The app leaves with its pid; an empty cgroup can be removed.
      rmSync(cgroup, { recursive: true, force: true });
    });
    sh(load);
    const shown = JSON.parse(
      execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(dir, 'sock_req_id')], { encoding: 'utf8' }),
    ) as { map_ids: number[] };
    expect(shown.map_ids).toContain(mapInfo(map.mapFd(names.dataMap)).id);

    app.stdin.write('socket\n');
    expect((await lines.next()).value).toBe('made');
    const dumped = sh(read, `pin=${pin}\ndir=${dir}\ncgroup=${cgroup}\n`);
    const entries = JSON.parse(dumped.slice(0, dumped.lastIndexOf(']') + 1)) as { key: number; value: number }[];
    expect(entries).toContainEqual({ key: appPid, value: 42 });
    expect(existsSync(DEFAULT_PIN_PATH)).toBe(hostPinBefore);

    app.stdin.end();
    await once(app, 'exit');
  });
});
