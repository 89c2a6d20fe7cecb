// tld map create | show | rm against the real kernel, as child processes.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bpfSupport, fileMode, loadFixtures, uniquePinPath } from '@tld/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { binPath, json, run } from './helpers.js';

// Skips only when the kernel lacks a feature; under TLD_REQUIRE_BPF=1 bpfSupport() throws instead.
const bpf = bpfSupport();
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath];

/** A group nobody is in on this machine: the pin's group in the sharing tests, given to the other user. */
const GROUP = 4242;
const openPin = fileURLToPath(new URL('./fixtures/open-pin.mjs', import.meta.url));

/** Runs `command` as uid 65534 (nobody), a real other user, with `groups` as its supplementary groups. */
function asNobody(command: string[], groups: number[] = []): { status: number | null; stdout: string; stderr: string } {
  const ids = ['--reuid=65534', '--regid=65534', groups.length ? `--groups=${groups.join(',')}` : '--clear-groups'];
  const result = spawnSync('setpriv', [...ids, ...command], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  if (result.error) throw result.error;
  return result;
}

/** TaskLocalData.open() of `pin` by uid 65534 in `groups`: what test/fixtures/open-pin.mjs prints. */
function openAsNobody(
  pin: string,
  groups: number[] = [],
): { opened?: boolean; warnings?: string[]; code?: string; message?: string } {
  const result = asNobody([process.execPath, '--no-warnings', openPin, pin], groups);
  try {
    return JSON.parse(result.stdout) as { opened?: boolean; warnings?: string[]; code?: string };
  } catch {
    throw new Error(`open-pin.mjs printed no JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

const cleanup: string[] = [];
const pins: string[] = [];
afterEach(() => {
  // `tld map rm` first, so that it forgets the directories it made; then whatever is left.
  for (const pin of pins.splice(0)) if (existsSync(pin)) run(['map', 'rm', '--pin', pin, '--force']);
  for (const path of cleanup.splice(0).reverse()) rmSync(path, { recursive: true, force: true });
});

/** A pin path in a directory that does not exist yet, both removed after the test. */
function nestedPin(): { dir: string; pin: string } {
  const dir = uniquePinPath('dir');
  const pin = `${dir}/app/tld_data_map`;
  cleanup.push(dir);
  pins.push(pin);
  return { dir, pin };
}

describe.skipIf(!bpf.supported)('tld map', () => {
  it('creates the pin 0600 with its directories, keeps it on a second create, and rm removes both', () => {
    const { dir, pin } = nestedPin();
    const created = run(['map', 'create', '--pin', pin, '--json']);
    expect(created.status).toBe(0);
    expect(json(created)).toMatchObject({
      ok: true,
      pin,
      created: true,
      mode: '0600',
      createdDirs: [dir, `${dir}/app`],
    });
    expect(fileMode(pin)).toBe(0o600);
    expect(fileMode(dir)).toBe(0o700);

    const again = run(['map', 'create', '--pin', pin, '--json']);
    expect(json(again)).toMatchObject({ ok: true, created: false, mapId: json(created)['mapId'], createdDirs: [] });

    const removed = run(['map', 'rm', '--pin', pin, '--json']);
    expect(removed.status).toBe(0);
    expect(json(removed)).toMatchObject({ ok: true, removed: true, forced: false, removedDirs: [`${dir}/app`, dir] });
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps a directory it did not make, and one that holds other pins', () => {
    const { dir, pin } = nestedPin();
    execFileSync('mkdir', [dir]);
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
    const other = `${dir}/app/other_map`;
    pins.push(other);
    expect(run(['map', 'create', '--pin', other]).status).toBe(0);
    expect(json(run(['map', 'rm', '--pin', pin, '--json']))).toMatchObject({ removedDirs: [] });
    expect(json(run(['map', 'rm', '--pin', other, '--json']))).toMatchObject({ removedDirs: [`${dir}/app`] });
    expect(existsSync(dir)).toBe(true);
  });

  it("--mode 0660 --group sets the pin's permission and group", () => {
    const { pin } = nestedPin();
    const result = run(['map', 'create', '--pin', pin, '--mode', '0660', '--group', '4', '--json']);
    expect(result.status).toBe(0);
    expect(json(result)).toMatchObject({ mode: '0660', gid: 4 });
    expect(fileMode(pin)).toBe(0o660);
    expect(statSync(pin).gid).toBe(4);
  });

  it('--mode 0660 --group G shares the pin: its directory 0750 root:G, a member opens it with no warning, others cannot', () => {
    const { dir, pin } = nestedPin();
    const result = run(['map', 'create', '--pin', pin, '--mode', '0660', '--group', String(GROUP), '--json']);
    expect(result.status, result.stderr).toBe(0);
    for (const made of [dir, `${dir}/app`]) {
      expect(fileMode(made)).toBe(0o750);
      expect(statSync(made).gid).toBe(GROUP);
    }
    expect(openAsNobody(pin, [GROUP])).toEqual({ opened: true, warnings: [] });
    expect(openAsNobody(pin)).toMatchObject({ code: 'ERR_TLD_PERMISSION' });
    // What nobody intended still warns: a pin every user may open.
    chmodSync(pin, 0o666);
    expect(openAsNobody(pin, [GROUP])).toEqual({ opened: true, warnings: ['TLD_LOOSE_PIN_MODE'] });
  });

  it('--group refuses a pin whose existing directory the group cannot search, naming the fix, and changes nothing', () => {
    const { dir, pin } = nestedPin();
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
    const before = statSync(pin);
    const refused = run(['map', 'create', '--pin', pin, '--mode', '0660', '--group', String(GROUP), '--json']);
    expect(refused.status).toBe(1);
    expect(json(refused)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_PERMISSION' } });
    expect(JSON.stringify(json(refused))).toContain(`chgrp ${GROUP} ${dir}`);
    expect(statSync(pin)).toMatchObject({ mode: before.mode, gid: before.gid });
  });

  it('--mode with group bits and no --group is refused with ERR_TLD_MODE_NEEDS_GROUP (exit 2), creating nothing', () => {
    const { dir, pin } = nestedPin();
    const refused = run(['map', 'create', '--pin', pin, '--mode', '0660']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/no --group .*\[ERR_TLD_MODE_NEEDS_GROUP\]/);
    const asJson = run(['map', 'create', '--pin', pin, '--mode', '0660', '--json']);
    expect(asJson.status).toBe(2);
    expect(json(asJson)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_MODE_NEEDS_GROUP' } });
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a symlink another user planted at the pin path: the map it points to keeps its mode and group', () => {
    const real = uniquePinPath('real');
    pins.push(real);
    expect(run(['map', 'create', '--pin', real]).status).toBe(0);
    const planted = uniquePinPath('planted');
    cleanup.push(planted);
    expect(asNobody(['ln', '-s', real, planted]).status).toBe(0);
    const refused = run(['map', 'create', '--pin', planted, '--mode', '0660', '--group', '65534', '--json']);
    expect(refused.status).toBe(1);
    expect(json(refused)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_UNSAFE_PIN_PATH' } });
    expect(JSON.stringify(json(refused))).toContain(`${planted} is a symbolic link owned by uid 65534`);
    expect(statSync(real)).toMatchObject({ uid: 0, gid: 0 });
    expect(fileMode(real)).toBe(0o600);
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(openAsNobody(real, [65534])).toMatchObject({ code: 'ERR_TLD_PERMISSION' });
  });

  it('refuses a pin in a directory another user owns, and creates nothing there', () => {
    const foreign = uniquePinPath('foreign');
    cleanup.push(foreign);
    expect(asNobody(['mkdir', '-m', '0755', foreign]).status).toBe(0);
    const refused = run(['map', 'create', '--pin', `${foreign}/tld_data_map`, '--json']);
    expect(refused.status).toBe(1);
    expect(json(refused)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_UNSAFE_PIN_PATH' } });
    expect(JSON.stringify(json(refused))).toContain(`the directory ${foreign} belongs to uid 65534`);
    expect(readdirSync(foreign)).toEqual([]);
    // Nor in a directory of root's that every user may write (not sticky).
    const open = uniquePinPath('open');
    cleanup.push(open);
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    expect(json(run(['map', 'create', '--pin', `${open}/tld_data_map`, '--json']))).toMatchObject({
      error: { code: 'ERR_TLD_UNSAFE_PIN_PATH' },
    });
    expect(readdirSync(open)).toEqual([]);
  });

  it('show opens the map as applications do: id, value size, mode, uptr, registered threads', () => {
    const { pin } = nestedPin();
    const { mapId } = json(run(['map', 'create', '--pin', pin, '--json']));
    const shown = run(['map', 'show', '--pin', pin, '--json']);
    expect(shown.status).toBe(0);
    expect(json(shown)).toEqual({
      ok: true,
      pin,
      mapId,
      name: 'tld_data_map',
      valueSize: 16,
      layout: 'selftests-6.18',
      mode: '0600',
      uid: 0,
      gid: 0,
      looseMode: false,
      uptr: true,
      threads: 0,
      processes: 0,
    });
    chmodSync(pin, 0o644);
    const loose = run(['map', 'show', '--pin', pin]);
    expect(loose.status).toBe(0);
    expect(loose.stdout).toContain(`chmod 600 ${pin}`);
  });

  it('rm refuses a pin that is not a task-local-data map and leaves it; --force removes it', () => {
    const hashPin = uniquePinPath('hash');
    cleanup.push(hashPin);
    const fixtures = loadFixtures({ wrongMapType: hashPin });
    try {
      const refused = run(['map', 'rm', '--pin', hashPin, '--json']);
      expect(refused.status).toBe(1);
      expect(json(refused)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_NOT_TLD_MAP' } });
      expect((json(refused)['error'] as { message: string }).message).toContain(`tld map rm --pin ${hashPin} --force`);
      expect(existsSync(hashPin)).toBe(true);
      expect(run(['map', 'rm', '--pin', hashPin, '--force']).status).toBe(0);
      expect(existsSync(hashPin)).toBe(false);
    } finally {
      fixtures.close();
    }
  });

  it('create refuses a pin taken by another object, rm --force refuses a file outside bpffs', () => {
    const hashPin = uniquePinPath('taken');
    cleanup.push(hashPin);
    const fixtures = loadFixtures({ wrongMapType: hashPin });
    try {
      const taken = run(['map', 'create', '--pin', hashPin]);
      expect(taken.status).toBe(1);
      expect(taken.stderr).toMatch(/is taken: .* not a task-storage map.*\[ERR_TLD_PIN_TAKEN\]/);
    } finally {
      fixtures.close();
    }
    const file = `/tmp/tld-test-not-a-pin-${process.pid}`;
    cleanup.push(file);
    writeFileSync(file, 'keep me');
    const refused = run(['map', 'rm', '--pin', file, '--force']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('ERR_TLD_NO_BPFFS');
    expect(existsSync(file)).toBe(true);
  });

  it('nothing pinned: show and rm fail with ERR_TLD_NO_MAP naming `npx tld map create --pin`', () => {
    const { pin } = nestedPin();
    const shown = run(['map', 'show', '--pin', pin, '--json']);
    expect(shown.status).toBe(1);
    expect(json(shown)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_NO_MAP' } });
    expect(JSON.stringify(json(shown))).toContain(`npx tld map create --pin ${pin}`);
    const removed = run(['map', 'rm', '--pin', pin]);
    expect(removed.status).toBe(1);
    expect(removed.stderr).toContain('ERR_TLD_NO_MAP');
  });

  it("without privileges: create names root or CAP_BPF, not libbpf's RLIMIT_MEMLOCK hint, and makes nothing", () => {
    const { dir, pin } = nestedPin();
    const result = run(['map', 'create', '--pin', pin], { command: [...AS_NOBODY, binPath] });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/root or CAP_BPF.*uid 65534.*\[ERR_TLD_PERMISSION\]/);
    expect(result.stderr).not.toMatch(/RLIMIT|libbpf:/);
    expect(existsSync(dirname(pin))).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
