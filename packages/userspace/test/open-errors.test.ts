// Every way TaskLocalData.open() can fail, against the real kernel, each asserting its code and that nothing is
// left behind (no element registered, no page held, no fd leaked). The one suite for these errors: the
// cross-package tests in @tld/testkit do not repeat them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError, TaskLocalData, TldError } from '../src/index.js';
import {
  type PinnedMaps,
  codeOf,
  countMapFds,
  loadFixtureMaps,
  loadNative,
  packageDir,
  pinHashMap,
} from './fixture.js';
import { takeSecurityWarnings } from './setup.js';

const native = loadNative();
/** A group nobody is in on this machine: the tests make it the pin's group and give it to the other user. */
const GROUP = 4242;

/** Runs `command` as uid 65534 (nobody), a real other user, in `groups` (none by default). */
function asNobody(command: string[], groups: number[] = []): { status: number | null; stdout: string; stderr: string } {
  const ids = ['--reuid=65534', '--regid=65534', groups.length ? `--groups=${groups.join(',')}` : '--clear-groups'];
  const result = spawnSync('setpriv', [...ids, ...command], { encoding: 'utf8' });
  if (result.error) throw result.error;
  return result;
}

/** A pin path at the top of bpffs, unique to this run. */
function topLevelPath(tag: string): string {
  return `/sys/fs/bpf/tld_userspace_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Asserts this thread has no element in the map at `pin` (lookup with our pidfd says ENOENT). */
function expectNotRegistered(pin: string): void {
  const fd = native.objGet(pin);
  const pidfd = native.openThreadPidfd();
  try {
    const key = new Uint8Array(new Int32Array([pidfd]).buffer);
    const info = native.objGetInfoByFd(fd);
    expect(() => native.mapLookupElem(fd, key, info.valueSize)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  } finally {
    native.close(pidfd);
    native.close(fd);
  }
}

/** Code and message of the error `fn` throws (fails the test when it does not throw). */
function codeAndMessage(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected a throw');
}

describe('TaskLocalData.open failures', () => {
  let maps: PinnedMaps;
  let tmp: string;
  beforeAll(() => {
    maps = loadFixtureMaps();
    tmp = mkdtempSync(join(tmpdir(), 'tld-open-'));
  });
  afterAll(() => {
    maps?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ERR_TLD_NO_BPFFS for a path outside bpffs, and for a missing directory', () => {
    expect(codeOf(() => TaskLocalData.open({ pinPath: join(tmp, 'tld_data_map') }))).toBe('ERR_TLD_NO_BPFFS');
    expect(codeOf(() => TaskLocalData.open({ pinPath: join(tmp, 'missing', 'tld_data_map') }))).toBe(
      'ERR_TLD_NO_BPFFS',
    );
    expect(() => TaskLocalData.open({ pinPath: join(tmp, 'tld_data_map') })).toThrow(
      expect.objectContaining({
        name: 'TldError',
        message: expect.stringContaining('mount -t bpf bpf /sys/fs/bpf') as unknown,
      }),
    );
  });

  it('ERR_TLD_NO_MAP when nothing is pinned, naming how to create the map', () => {
    const pin = `/sys/fs/bpf/tld_userspace_absent_${process.pid}`;
    let error: unknown;
    try {
      TaskLocalData.open({ pinPath: pin });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TldError);
    expect((error as TldError).code).toBe('ERR_TLD_NO_MAP');
    expect((error as Error).message).toContain('tld map create');
  });

  it('ERR_TLD_MAP_TYPE for a pinned hash map, by pin and by fd, without leaking its fd', () => {
    const pin = pinHashMap();
    try {
      const before = countMapFds();
      expect(codeOf(() => TaskLocalData.open({ pinPath: pin }))).toBe('ERR_TLD_MAP_TYPE');
      expect(countMapFds()).toBe(before);
      const fd = native.objGet(pin);
      try {
        expect(codeOf(() => TaskLocalData.open({ mapFd: fd }))).toBe('ERR_TLD_MAP_TYPE');
        // The caller's fd stays open.
        expect(native.objGetInfoByFd(fd).type).not.toBe(native.constants.BPF_MAP_TYPE_TASK_STORAGE);
      } finally {
        native.close(fd);
      }
    } finally {
      rmSync(pin, { force: true });
    }
  });

  it.each([
    ['small_map', 8],
    ['wide_map', 32],
  ] as const)('ERR_TLD_VALUE_SIZE for a task-storage map with a %s-byte value, by pin and by fd', (name, size) => {
    const registrations = native.registrationCount();
    const pin = maps.pin(name);
    const fd = native.objGet(pin);
    try {
      expect(native.objGetInfoByFd(fd).valueSize).toBe(size);
      expect(codeOf(() => TaskLocalData.open({ pinPath: pin }))).toBe('ERR_TLD_VALUE_SIZE');
      expect(codeOf(() => TaskLocalData.open({ mapFd: fd }))).toBe('ERR_TLD_VALUE_SIZE');
    } finally {
      native.close(fd);
    }
    expect(native.registrationCount()).toBe(registrations);
  });

  it('ERR_TLD_BAD_FD for a closed fd, a non-map fd and a program fd', () => {
    const file = openSync(join(tmp, 'plain-file'), 'w');
    closeSync(file); // `file` is now closed
    expect(codeOf(() => TaskLocalData.open({ mapFd: file }))).toBe('ERR_TLD_BAD_FD');
    const other = openSync(join(tmp, 'plain-file'), 'r');
    try {
      expect(codeOf(() => TaskLocalData.open({ mapFd: other }))).toBe('ERR_TLD_BAD_FD');
    } finally {
      closeSync(other);
    }
    const progPin = `${maps.dir.replace(/_maps$/, '_progs')}/noop`;
    const prog = native.objGet(progPin);
    try {
      expect(codeOf(() => TaskLocalData.open({ mapFd: prog }))).toBe('ERR_TLD_BAD_FD');
      // A pinned program is not a map either.
      expect(codeOf(() => TaskLocalData.open({ pinPath: progPin }))).toBe('ERR_TLD_MAP_TYPE');
    } finally {
      native.close(prog);
    }
  });

  it('NotSupportedError when the map stores plain numbers instead of uptrs, leaving nothing registered', () => {
    const before = countMapFds();
    const registrations = native.registrationCount();
    const page = native.threadDataPageAddress();
    let error: unknown;
    try {
      TaskLocalData.open({ pinPath: maps.pin('plain_map') });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NotSupportedError);
    expect((error as NotSupportedError).minKernel).toBe('6.13');
    expect(native.registrationCount()).toBe(registrations);
    // A page this open() mapped was released again; one the thread already had stays.
    expect(native.threadDataPageAddress()).toBe(page);
    expect(countMapFds()).toBe(before);
    expectNotRegistered(maps.pin('plain_map'));
  });

  it('rejects bad options with coded TypeErrors before any syscall', () => {
    const registrations = native.registrationCount();
    expect(() => TaskLocalData.open({ mapFd: -1 })).toThrow(TypeError);
    expect(() => TaskLocalData.open({ mapFd: 1.5 })).toThrow(TypeError);
    expect(() => TaskLocalData.open({ pinPath: '' })).toThrow(TypeError);
    expect(() => TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), mapFd: 3 })).toThrow(TypeError);
    expect(() => TaskLocalData.open(42 as never)).toThrow(TypeError);
    expect(codeOf(() => TaskLocalData.open(42 as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => TaskLocalData.open({ mapFd: 1.5 }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(native.registrationCount()).toBe(registrations);
  });

  it('warns TLD_LOOSE_PIN_MODE when every user may open the pin, and not when it is 0600 or shared with a group', async () => {
    // The one test that means to trigger the warning: it takes it, so test/setup.ts does not fail it.
    const pin = maps.pin('tld_data_map');
    try {
      chmodSync(pin, 0o644);
      TaskLocalData.open({ pinPath: pin }).close();
      const loose = await takeSecurityWarnings();
      expect(loose.map((w) => (w as { code?: string }).code)).toEqual(['TLD_LOOSE_PIN_MODE']);
      expect(loose[0]?.message).toContain(`chmod 600 ${pin}`);
    } finally {
      chmodSync(pin, 0o600);
    }
    TaskLocalData.open({ pinPath: pin }).close();
    expect(await takeSecurityWarnings()).toEqual([]);
    // Shared with a group on purpose (tld map create --mode 0660 --group NAME): no warning.
    try {
      chownSync(pin, 0, GROUP);
      chmodSync(pin, 0o660);
      TaskLocalData.open({ pinPath: pin }).close();
      expect(await takeSecurityWarnings()).toEqual([]);
    } finally {
      chmodSync(pin, 0o600);
      chownSync(pin, 0, 0);
    }
  });

  it('warns TLD_PIN_OWNER when the pin belongs to neither root nor this user, and not when root owns it', async () => {
    // Takes the warning it means to trigger, so test/setup.ts does not fail it.
    const pin = maps.pin('tld_data_map');
    try {
      chownSync(pin, 65534, 65534);
      TaskLocalData.open({ pinPath: pin }).close();
      const foreign = await takeSecurityWarnings();
      expect(foreign.map((w) => (w as { code?: string }).code)).toEqual(['TLD_PIN_OWNER']);
      expect(foreign[0]?.message).toContain('uid 65534');
    } finally {
      chownSync(pin, 0, 0);
    }
    TaskLocalData.open({ pinPath: pin }).close();
    expect(await takeSecurityWarnings()).toEqual([]);
  });

  it('ERR_TLD_UNSAFE_PIN_PATH for a symlink another user planted, naming it and its owner; nothing registered', () => {
    const pin = maps.pin('tld_data_map');
    const link = topLevelPath('planted');
    expect(asNobody(['ln', '-s', pin, link]).status).toBe(0);
    try {
      expect(lstatSync(link).uid).toBe(65534);
      const registrations = native.registrationCount();
      const fds = countMapFds();
      let error: unknown;
      try {
        TaskLocalData.open({ pinPath: link }).close();
      } catch (e) {
        error = e;
      }
      expect((error as TldError | undefined)?.code).toBe('ERR_TLD_UNSAFE_PIN_PATH');
      expect((error as Error).message).toContain(`${link} is a symbolic link owned by uid 65534`);
      expect((error as Error).message).toContain(`rm ${link}`);
      expect(native.registrationCount()).toBe(registrations);
      expect(countMapFds()).toBe(fds);
    } finally {
      rmSync(link, { force: true });
    }
  });

  it('a symlink root owns is followed (its target checked the same way), with no warning', async () => {
    const link = topLevelPath('root_link');
    symlinkSync(maps.pin('tld_data_map'), link);
    try {
      const tld = TaskLocalData.open({ pinPath: link });
      const fd = native.objGet(maps.pin('tld_data_map'));
      try {
        expect(tld.mapId).toBe(native.objGetInfoByFd(fd).id);
      } finally {
        native.close(fd);
        tld.close();
      }
      expect(await takeSecurityWarnings()).toEqual([]);
    } finally {
      rmSync(link, { force: true });
    }
  });

  it('ERR_TLD_UNSAFE_PIN_PATH for a directory on the way that another user owns, or that others can write', () => {
    const dir = topLevelPath('foreign_dir');
    expect(asNobody(['mkdir', dir]).status).toBe(0);
    try {
      // Even with root's own map pinned inside (root can write anywhere), its owner could swap it at any time.
      execFileSync('bpftool', [
        'map',
        'create',
        `${dir}/tld_data_map`,
        'type',
        'hash',
        'key',
        '4',
        'value',
        '8',
        'entries',
        '1',
        'name',
        'x',
      ]);
      const foreign = codeAndMessage(() => TaskLocalData.open({ pinPath: `${dir}/tld_data_map` }));
      expect(foreign.code).toBe('ERR_TLD_UNSAFE_PIN_PATH');
      expect(foreign.message).toContain(`the directory ${dir} belongs to uid 65534`);
      chownSync(dir, 0, 0);
      chmodSync(dir, 0o777);
      const writable = codeAndMessage(() => TaskLocalData.open({ pinPath: `${dir}/tld_data_map` }));
      expect(writable.code).toBe('ERR_TLD_UNSAFE_PIN_PATH');
      expect(writable.message).toContain('mode 0777, so every user can write to it');
      chmodSync(dir, 0o755);
      expect(codeAndMessage(() => TaskLocalData.open({ pinPath: `${dir}/tld_data_map` })).code).toBe(
        'ERR_TLD_MAP_TYPE',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ERR_TLD_FOREIGN_REGISTRATION names both causes when another user who can open the pin registered the thread first', async () => {
    const dir = topLevelPath('group_pin');
    mkdirSync(dir, { mode: 0o750 });
    chownSync(dir, 0, GROUP);
    const pin = `${dir}/tld_data_map`;
    const forge = join(tmp, 'forge');
    execFileSync('cc', [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      join(packageDir, 'test', 'attacker', 'forge.c'),
      '-o',
      forge,
    ]);
    chmodSync(tmp, 0o755);
    // The victim: a process of root that will open the map once the other user has registered its thread.
    const script = `
      import { TaskLocalData } from ${JSON.stringify(join(packageDir, 'dist/index.js'))};
      process.stdin.once('data', () => {
        try { TaskLocalData.open({ pinPath: ${JSON.stringify(pin)} }).close(); console.log(JSON.stringify({ opened: true })); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        process.exit(0);
      });`;
    const victim = spawn(process.execPath, ['--input-type=module', '-e', script]);
    try {
      execFileSync('bpftool', ['map', 'pin', 'pinned', maps.pin('tld_data_map'), pin]);
      chownSync(pin, 0, GROUP);
      chmodSync(pin, 0o660);
      const forged = asNobody([forge, pin, String(victim.pid)], [GROUP]);
      expect(forged.stdout.trim()).toBe('forged');
      let out = '';
      victim.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      victim.stdin.write('go\n');
      await once(victim, 'exit');
      const result = JSON.parse(out) as { code?: string; message?: string };
      expect(result.code).toBe('ERR_TLD_FOREIGN_REGISTRATION');
      expect(result.message).toContain('Other code in this process');
      expect(result.message).toContain('Another process that can open the map');
      expect(result.message).toContain('its group');
    } finally {
      victim.kill();
      rmSync(dir, { recursive: true, force: true });
      chmodSync(tmp, 0o700);
    }
  });

  it('refuses an unknown option with ERR_TLD_UNKNOWN_OPTION and the likely name, before opening anything', () => {
    const registrations = native.registrationCount();
    const mistyped = codeAndMessage(() => TaskLocalData.open({ pinPath: maps.pin('tld_data_map'), mapfd: 3 } as never));
    expect(mistyped.code).toBe('ERR_TLD_UNKNOWN_OPTION');
    expect(mistyped.message).toContain('unknown option "mapfd" (did you mean mapFd?)');
    const lower = codeAndMessage(() => TaskLocalData.open({ pinpath: maps.pin('tld_data_map') } as never));
    expect(lower.code).toBe('ERR_TLD_UNKNOWN_OPTION');
    expect(lower.message).toContain('(did you mean pinPath?)');
    expect(codeAndMessage(() => TaskLocalData.open({ [Symbol('x')]: 1 })).code).toBe('ERR_TLD_UNKNOWN_OPTION');
    expect(
      codeAndMessage(() => TaskLocalData.open({ frobnicate: 1, ifUnavailable: 'noop' } as never)).message,
    ).not.toContain('did you mean');
    expect(native.registrationCount()).toBe(registrations);
  });

  it("ERR_TLD_PERMISSION comes from the pin's mode and owner alone, and the message names both", () => {
    const pin = maps.pin('tld_data_map');
    const script = `
      import { TaskLocalData } from ${JSON.stringify(join(packageDir, 'dist/index.js'))};
      try { TaskLocalData.open({ pinPath: ${JSON.stringify(pin)} }).close(); console.log(JSON.stringify({ opened: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const asNobody = () => {
      const child = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      });
      expect(child.stderr).toBe('');
      return JSON.parse(child.stdout) as { code?: string; message?: string; opened?: boolean };
    };
    chmodSync(maps.dir, 0o755); // let the user reach the pin: what decides is the pin's own mode
    try {
      const refused = asNobody();
      expect(refused.code).toBe('ERR_TLD_PERMISSION');
      expect(refused.message).toContain('mode 0600, owner uid 0');
      expect(refused.message).toContain("run as the pin's owner");
      // With a mode that lets it in, the same unprivileged user opens and registers: no capability is involved,
      // which is why pins must stay 0600.
      chmodSync(pin, 0o666);
      expect(asNobody()).toEqual({ opened: true });
    } finally {
      chmodSync(pin, 0o600);
      chmodSync(maps.dir, 0o700);
    }
  });
});
