// Every way TaskLocalData.open() can fail, against the real kernel, each asserting its code and that nothing is
// left behind (no element registered, no page held, no fd leaked). The one suite for these errors: the
// cross-package tests in @tld/testkit do not repeat them.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfSyscallError, NotSupportedError, TaskLocalData, TldError } from '../src/index.js';
import { type PinnedMaps, codeOf, countMapFds, loadFixtureMaps, loadNative, packageDir, pinHashMap } from './fixture.js';
import { takeSecurityWarnings } from './setup.js';

const native = loadNative();

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
    expect(codeOf(() => TaskLocalData.open({ pinPath: join(tmp, 'missing', 'tld_data_map') }))).toBe('ERR_TLD_NO_BPFFS');
    expect(() => TaskLocalData.open({ pinPath: join(tmp, 'tld_data_map') })).toThrow(
      expect.objectContaining({ name: 'TldError', message: expect.stringContaining('mount -t bpf bpf /sys/fs/bpf') as unknown }),
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
    expect((error as Error).cause).toBeInstanceOf(BpfSyscallError);
    expect(((error as Error).cause as BpfSyscallError).errnoCode).toBe('ENOENT');
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

  it('warns TLD_LOOSE_PIN_MODE when the pin is group/world accessible, and not when it is 0600', async () => {
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
