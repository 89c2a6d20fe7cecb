// Opening the task-local-data map from a pin or a caller's fd, and checking that it is one (PROTOCOL.md §1):
// every refusal is a typed error that names the cause and the fix. A pin path is resolved by pin-path.ts (no link
// an untrusted user controls is followed), and BPF_OBJ_GET opens the very pin it checked, through its descriptor.
import { readlinkSync } from 'node:fs';
import { MAP_VALUE_SIZES, TldError, checkMapValueSize } from '@tld/protocol';
import { defaultPinPath } from './config.js';
import { UserspaceErrorCode, isErrno, syscallError } from './errors.js';
import { type MapInfo, native } from './native.js';
import { type FileStat, createCommand, describeUid, fdOnBpffs, fdPath, resolvePin } from './pin-path.js';

export { createCommand };

/** What /proc/self/fd/N links to for a BPF map fd (fs/anon_inodes.c name "bpf-map"). */
const BPF_MAP_FD_LINK = 'anon_inode:bpf-map';

/** BPF_OBJ_GET checks the pin like a file: read and write permission on it, from its mode and owner. */
function pinPermissionError(pinPath: string, stat: FileStat, cause: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.PERMISSION,
    `opening the pinned map ${pinPath}: permission denied. Opening a pin needs read and write permission on the ` +
      `pin file (mode 0${(stat.mode & 0o777).toString(8)}, owner uid ${stat.uid}, gid ${stat.gid}) and search ` +
      "permission on its directories: run as the pin's owner, or have its owner grant access (chown/chmod, " +
      "keeping it closed to untrusted users: whoever can open it can point any task's storage at memory of their " +
      'choosing). When the mode allows it, a security module (SELinux, AppArmor) denied it',
    { cause },
  );
}

function noMap(pinPath: string, cause?: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.NO_MAP,
    `nothing is pinned at ${pinPath}: create the map with \`${createCommand(pinPath)}\` (as root; the ` +
      '`tld` command of @tld/cli), or load a BPF program that declares tld_data_map pinned by name ' +
      '(__uint(pinning, LIBBPF_PIN_BY_NAME))',
    cause === undefined ? undefined : { cause },
  );
}

/** A map fd opened from a checked pin, with the pin file's fstat. */
export interface OpenedPin {
  readonly fd: number;
  readonly stat: FileStat;
}

/**
 * BPF_OBJ_GET of the pin with typed errors; the returned fd is the caller's to close. Warns (TLD_LOOSE_PIN_MODE,
 * TLD_PIN_OWNER) about a pin others may open or another user owns, unless `warn` is false.
 */
export function openPinned(pinPath: string, warn = true): OpenedPin {
  const pin = resolvePin(pinPath);
  let fd: number;
  try {
    if (!fdOnBpffs(pin.dirFd)) {
      throw new TldError(
        UserspaceErrorCode.NO_BPFFS,
        `${pin.dirPath} is not a bpffs mount, so ${pinPath} cannot be a pinned map: mount bpffs with ` +
          '`mount -t bpf bpf /sys/fs/bpf` and use a pin path inside it',
      );
    }
    if (pin.entry === undefined) throw noMap(pinPath);
    const { stat } = pin.entry;
    try {
      // The pin resolvePin() checked, by its descriptor: BPF_OBJ_GET never sees a path someone can swap.
      // (BPF_F_PATH_FD with the directory's fd would not do: the kernel looks the name up with LOOKUP_FOLLOW.)
      fd = native.objGet(fdPath(pin.entry.fd));
    } catch (raw) {
      const error = syscallError(raw, `opening the pinned map ${pinPath}`);
      if (isErrno(error, 'ENOENT')) throw noMap(pinPath, error);
      if (isErrno(error, 'EPERM', 'EACCES')) throw pinPermissionError(pinPath, stat, error);
      throw error;
    }
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== BPF_MAP_FD_LINK) {
        throw new TldError(
          UserspaceErrorCode.MAP_TYPE,
          `${pinPath} is a pinned BPF object but not a map: pin the task-local-data map (tld_data_map) there`,
        );
      }
      if (warn) warnOnLoosePin(pinPath, stat);
    } catch (error) {
      native.close(fd);
      throw error;
    }
    return { fd, stat };
  } finally {
    pin.close();
  }
}

/**
 * A pin others may open lets them point any task's storage at their own memory; a pin owned by someone other than
 * root or us was created by that someone (bpffs is often world-writable), who can do the same. Group access is how
 * a pin is shared on purpose (`tld map create --mode 0660 --group NAME`): no warning for it.
 */
function warnOnLoosePin(pinPath: string, stat: FileStat): void {
  const bits = stat.mode & 0o777;
  if ((bits & 0o007) !== 0) {
    process.emitWarning(
      `${pinPath} has mode 0${bits.toString(8)}: every user on the host can open the task-local-data map and ` +
        "point any task's storage at memory of their choosing. Restrict it with `chmod 600 " +
        pinPath +
        '`, or share it with a group (`tld map create --mode 0660 --group NAME`)',
      { type: 'TldSecurityWarning', code: 'TLD_LOOSE_PIN_MODE' },
    );
  }
  const euid = process.geteuid?.();
  if (stat.uid !== 0 && stat.uid !== euid) {
    process.emitWarning(
      `${pinPath} belongs to ${describeUid(stat.uid)}, neither root nor this process's user: whoever pinned it can ` +
        "point any task's storage at memory of their choosing. Remove it and have root create the map " +
        `(\`sudo npx tld map create --pin ${pinPath}\`)`,
      { type: 'TldSecurityWarning', code: 'TLD_PIN_OWNER' },
    );
  }
}

/** Throws ERR_TLD_BAD_FD unless `fd` is an open BPF map fd of this process. */
export function checkMapFd(fd: number): void {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (error) {
    throw new TldError(
      UserspaceErrorCode.BAD_FD,
      `mapFd ${fd} is not an open file descriptor: pass the fd of the task-local-data map (e.g. bpf_map__fd())`,
      { cause: error },
    );
  }
  if (link !== BPF_MAP_FD_LINK) {
    throw new TldError(
      UserspaceErrorCode.BAD_FD,
      `mapFd ${fd} is ${link}, not a BPF map: pass the fd of the task-local-data map (e.g. bpf_map__fd())`,
    );
  }
}

/** Reads the map's info and throws ERR_TLD_MAP_TYPE / ERR_TLD_VALUE_SIZE unless it is a task-local-data map. */
export function checkMap(fd: number, source: string): MapInfo {
  let info: MapInfo;
  try {
    info = native.objGetInfoByFd(fd);
  } catch (raw) {
    const error = syscallError(raw, `reading the map info of ${source}`);
    if (isErrno(error, 'EBADF', 'EBADFD', 'EINVAL')) {
      throw new TldError(
        UserspaceErrorCode.BAD_FD,
        `${source} is not an open BPF map fd: pass the task-local-data map's fd`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  const { BPF_MAP_TYPE_TASK_STORAGE } = native.constants;
  if (info.type !== BPF_MAP_TYPE_TASK_STORAGE) {
    throw new TldError(
      UserspaceErrorCode.MAP_TYPE,
      `${source} (map ${JSON.stringify(info.name)}, id ${info.id}) has map type ${info.type}, not ` +
        `BPF_MAP_TYPE_TASK_STORAGE (${BPF_MAP_TYPE_TASK_STORAGE}): point at the task-local-data map (tld_data_map)`,
    );
  }
  try {
    checkMapValueSize(info.valueSize);
  } catch (error) {
    throw new TldError(
      UserspaceErrorCode.VALUE_SIZE,
      `${source} (map ${JSON.stringify(info.name)}, id ${info.id}) has value_size ${info.valueSize}; a task-local-data ` +
        `map value is ${MAP_VALUE_SIZES.join(' or ')} bytes (struct tld_map_value): create the map from the generated ` +
        'tld_layout.h',
      { cause: error },
    );
  }
  return info;
}

/** A pinned map checked the way TaskLocalData.open() checks it, without registering the calling thread. */
export interface PinnedMap {
  readonly pinPath: string;
  readonly id: number;
  /** The map's name (kernel names are at most 15 bytes), "tld_data_map" when created from tld.bpf.h. */
  readonly name: string;
  readonly valueSize: number;
  /** The pin file's permission bits, its owner and group. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Opens the pin (default `$TLD_PIN`, else DEFAULT_PIN_PATH), checks that it is a task-local-data map (task storage,
 * 16- or 24-byte values) and closes it again. Throws TldError ERR_TLD_NO_BPFFS, ERR_TLD_NO_MAP, ERR_TLD_PERMISSION,
 * ERR_TLD_UNSAFE_PIN_PATH, ERR_TLD_MAP_TYPE or ERR_TLD_VALUE_SIZE like TaskLocalData.open(); whether the kernel
 * accepts its pages is only known by opening it.
 */
export function inspectPinnedMap(pinPath: string = defaultPinPath()): PinnedMap {
  if (typeof pinPath !== 'string' || pinPath.length === 0 || pinPath.includes('\0')) {
    throw new TypeError('inspectPinnedMap(pinPath): pinPath must be a non-empty path string without NUL');
  }
  const { fd, stat } = openPinned(pinPath, false);
  try {
    const info = checkMap(fd, pinPath);
    const { mode, uid, gid } = stat;
    return { pinPath, id: info.id, name: info.name, valueSize: info.valueSize, mode: mode & 0o777, uid, gid };
  } finally {
    native.close(fd);
  }
}
