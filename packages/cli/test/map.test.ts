// tld map create | show | rm against the real kernel, as child processes.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bpfSupport, fileMode, loadFixtures, uniquePinPath } from '@tld/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { binPath, json, run } from './helpers.js';

// Skips only when the kernel lacks a feature; under TLD_REQUIRE_BPF=1 bpfSupport() throws instead.
const bpf = bpfSupport();
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath];

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
    expect(json(created)).toMatchObject({ ok: true, pin, created: true, mode: '0600', createdDirs: [dir, `${dir}/app`] });
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

  it('--mode 0660 --group sets the pin\'s permission and group', () => {
    const { pin } = nestedPin();
    const result = run(['map', 'create', '--pin', pin, '--mode', '0660', '--group', '4', '--json']);
    expect(result.status).toBe(0);
    expect(json(result)).toMatchObject({ mode: '0660', gid: 4 });
    expect(fileMode(pin)).toBe(0o660);
    expect(statSync(pin).gid).toBe(4);
  });

  it('show opens the map as applications do: id, value size, mode, uptr, registered threads', () => {
    const { pin } = nestedPin();
    const { mapId } = json(run(['map', 'create', '--pin', pin, '--json']));
    const shown = run(['map', 'show', '--pin', pin, '--json']);
    expect(shown.status).toBe(0);
    expect(json(shown)).toEqual({
      ok: true, pin, mapId, name: 'tld_data_map', valueSize: 16, layout: 'selftests-6.18', mode: '0600', uid: 0, gid: 0, looseMode: false,
      uptr: true, threads: 0, processes: 0,
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

  it('without privileges: create names root or CAP_BPF, not libbpf\'s RLIMIT_MEMLOCK hint, and makes nothing', () => {
    const { dir, pin } = nestedPin();
    const result = run(['map', 'create', '--pin', pin], { command: [...AS_NOBODY, binPath] });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/root or CAP_BPF.*uid 65534.*\[ERR_TLD_PERMISSION\]/);
    expect(result.stderr).not.toMatch(/RLIMIT|libbpf:/);
    expect(existsSync(dirname(pin))).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
