// Resolving a pin path on a shared bpffs without following links an untrusted user controls. /sys/fs/bpf is often
// mode 1777: any local user can plant a symlink or a directory there, and every call that takes a path follows
// whatever is at that path when it runs. So the path is walked one component at a time, each opened with
// O_PATH | O_NOFOLLOW relative to its checked parent and fstat'ed: a symlink is followed only when root or this
// user owns it, and a directory is entered only when nobody else owns it or can write to it (a sticky directory
// owned by root, like the bpffs root, is fine: others cannot rename or remove what is not theirs).
//
// Everything after the walk goes through the descriptors it checked, never through the path again. Node has no
// openat(), fchmodat() on an O_PATH fd, or fstatfs(): /proc/self/fd/N names exactly the open file whatever
// happened to its path since, so `/proc/self/fd/N/name` is openat(N, name) and chmod(/proc/self/fd/N) is a
// chmod of the checked inode (the kernel's own fallback for fchmodat(AT_EMPTY_PATH) works the same way).
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  statfsSync,
} from 'node:fs';
import { posix } from 'node:path';
import { TldError } from '@tld/protocol';
import { UserspaceErrorCode } from './errors.js';

/** open(2) flag: a descriptor that only names a file (include/uapi/asm-generic/fcntl.h; not in fs.constants). */
const O_PATH = 0o10000000;
/** statfs f_type of bpffs (include/uapi/linux/magic.h BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;
/** Symlinks followed in one resolution before giving up (the kernel's MAXSYMLINKS). */
const MAX_LINKS = 40;
/** The sticky bit of st_mode (include/uapi/linux/stat.h; not in fs.constants). */
const S_ISVTX = 0o1000;

/** The path that reaches the open file `fd` (and, with `name`, the entry `name` of the directory `fd`). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** Whether the file at `fd` (a directory, for the question "could a pin be here") is on bpffs. */
export function fdOnBpffs(fd: number): boolean {
  return statfsSync(fdPath(fd)).type === BPF_FS_MAGIC;
}

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/** Root or this process's user: who may own what the walk passes through. */
function trusted(uid: number): boolean {
  return uid === 0 || uid === euid();
}

function lookupName(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[2] === String(id)) return fields[0];
    }
  } catch {
    // no such database: the number alone names it
  }
  return undefined;
}

/** "uid 65534 (nobody)", for messages. */
export function describeUid(uid: number): string {
  const name = lookupName('/etc/passwd', uid);
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

/** "gid 65534 (nogroup)", for messages. */
export function describeGid(gid: number): string {
  const name = lookupName('/etc/group', gid);
  return name === undefined ? `gid ${gid}` : `gid ${gid} (${name})`;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function unsafe(pinPath: string, what: string, fix: string): TldError {
  return new TldError(
    UserspaceErrorCode.UNSAFE_PIN_PATH,
    `refusing the pin path ${pinPath}: ${what}, who could swap the pin for a map of their own (or point it at ` +
      `another). Nothing was opened or changed. Fix: ${fix}`,
  );
}

/** Why a directory on the way may not be trusted, or undefined. */
function directoryProblem(stat: FileStat): string | undefined {
  if (!trusted(stat.uid)) return `belongs to ${describeUid(stat.uid)}`;
  const sticky = (stat.mode & S_ISVTX) !== 0;
  if ((stat.mode & 0o022) !== 0 && !(sticky && stat.uid === 0)) {
    const who = (stat.mode & 0o002) !== 0 ? 'every user' : `the members of ${describeGid(stat.gid)}`;
    return `has mode ${octal(stat.mode)}, so ${who} can write to it`;
  }
  return undefined;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * What resolvePin() reports of a file: the fields of fs.Stats it uses (declared here so that the package's types
 * need no @types/node).
 */
export interface FileStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly ino: number;
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

/** How resolvePin() treats the directories on the way (tld map create). */
export interface ResolveOptions {
  /** Make missing directories (on bpffs only) with these permission bits and, if given, this group. */
  readonly makeDirs?: { readonly mode: number; readonly gid?: number };
  /** A group that must be able to reach the pin: every existing directory on the way must let it search. */
  readonly reachableBy?: number;
}

/** The directory that holds the pin, checked, and the pin's entry in it (if any). */
export interface ResolvedPin {
  /** The path as given. */
  readonly pinPath: string;
  /** O_PATH descriptor of the directory that holds the pin. */
  readonly dirFd: number;
  /** That directory's path, after following trusted links (for messages). */
  readonly dirPath: string;
  /** The pin's name in it. */
  readonly name: string;
  /** O_PATH | O_NOFOLLOW descriptor of the pin's entry and its fstat, or undefined when there is none. */
  readonly entry: { readonly fd: number; readonly stat: FileStat } | undefined;
  /** Directories made on the way (ResolveOptions.makeDirs), outermost first. */
  readonly made: readonly string[];
  /** Closes both descriptors. */
  close(): void;
}

/** Why a directory on the way to the pin is missing: nothing pinned (on bpffs) or no bpffs there. */
function missingDirectory(pinPath: string, dirFd: number, missing: string, cause: unknown): TldError {
  if (fdOnBpffs(dirFd)) {
    return new TldError(
      UserspaceErrorCode.NO_MAP,
      `nothing is pinned at ${pinPath} (${missing} does not exist): create the map with \`${createCommand(pinPath)}\` ` +
        '(as root; the `tld` command of @tld/cli makes the missing directories)',
      { cause },
    );
  }
  return new TldError(
    UserspaceErrorCode.NO_BPFFS,
    `${missing} does not exist (${errnoOf(cause) ?? String(cause)}), so nothing can be pinned at ${pinPath}: ` +
      'mount bpffs with `mount -t bpf bpf /sys/fs/bpf` and pin the map there',
    { cause },
  );
}

/** The command that creates the map at `pinPath`, for error messages (@tld/cli's `tld`). */
export function createCommand(pinPath: string): string {
  return pinPath === '/sys/fs/bpf/tld_data_map' ? 'npx tld map create' : `npx tld map create --pin ${pinPath}`;
}

/** A search-permission refusal on the way to the pin. */
export function searchDenied(pinPath: string, dirPath: string, cause: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.PERMISSION,
    `opening the pinned map ${pinPath}: permission denied searching ${dirPath}. Opening a pin needs search ` +
      "permission on its directories and read and write permission on the pin file: run as the pin's owner, or " +
      'have its owner grant access to a group (`tld map create --mode 0660 --group NAME` sets up both), keeping it ' +
      "closed to untrusted users: whoever can open it can point any task's storage at memory of their choosing",
    { cause },
  );
}

function canSearch(stat: FileStat, gid: number): boolean {
  return (stat.mode & 0o001) !== 0 || (stat.gid === gid && (stat.mode & 0o010) !== 0);
}

function openNoFollow(dirFd: number, name: string): number {
  return openSync(fdPath(dirFd, name), O_PATH | constants.O_NOFOLLOW);
}

/** The walk's result; its close() closes the pin's entry (when there is one), then the directory. */
function resolved(
  pinPath: string,
  dirFd: number,
  dirPath: string,
  name: string,
  entry: ResolvedPin['entry'],
  made: readonly string[],
): ResolvedPin {
  return {
    pinPath,
    dirFd,
    dirPath,
    name,
    entry,
    made,
    close: () => {
      if (entry !== undefined) closeSync(entry.fd);
      closeSync(dirFd);
    },
  };
}

/**
 * Walks `pinPath` from / without following links an untrusted user controls; returns the checked directory that
 * holds the pin and the pin's entry (the caller closes both with close()). A symlink owned by root or this user is
 * followed (its target walked with the same checks); any other symlink, and a directory on the way that another
 * user owns or can write (except a sticky one owned by root), is refused with ERR_TLD_UNSAFE_PIN_PATH. A missing
 * directory is made when `options.makeDirs` says so (only on bpffs), else throws ERR_TLD_NO_MAP (on bpffs) or
 * ERR_TLD_NO_BPFFS; a directory this user (or `options.reachableBy`) cannot search throws ERR_TLD_PERMISSION.
 */
export function resolvePin(pinPath: string, options: ResolveOptions = {}): ResolvedPin {
  const { makeDirs, reachableBy } = options;
  const queue = posix
    .resolve(pinPath)
    .split('/')
    .filter((part) => part !== '' && part !== '.');
  if (queue.length === 0) throw unsafe(pinPath, 'it names the root directory', 'give the path of a pin file');
  let dirFd = openSync('/', O_PATH | constants.O_DIRECTORY);
  let dirPath = '/';
  const made: string[] = [];
  let links = 0;
  try {
    for (;;) {
      const name = queue.shift() as string;
      const path = posix.join(dirPath, name);
      let fd: number;
      try {
        fd = openNoFollow(dirFd, name);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'EACCES') throw searchDenied(pinPath, dirPath, error);
        if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw error;
        if (queue.length === 0) return resolved(pinPath, dirFd, dirPath, name, undefined, made);
        if (makeDirs === undefined || errno !== 'ENOENT') throw missingDirectory(pinPath, dirFd, path, error);
        fd = makeDirectory(pinPath, dirFd, name, path, makeDirs.mode, makeDirs.gid);
        made.push(path);
      }
      let stat: FileStat;
      try {
        stat = fstatSync(fd);
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      if (stat.isSymbolicLink()) {
        closeSync(fd);
        if (!trusted(stat.uid)) {
          throw unsafe(
            pinPath,
            `${path} is a symbolic link owned by ${describeUid(stat.uid)}`,
            `remove it (\`rm ${path}\`) and give the pin's real path`,
          );
        }
        if (++links > MAX_LINKS)
          throw unsafe(pinPath, `it goes through more than ${MAX_LINKS} symbolic links`, 'give the real path');
        // The link cannot change between the fstat and this read: its directory is checked, and only its trusted
        // owner could replace it.
        const target = readlinkSync(fdPath(dirFd, name));
        queue.unshift(...target.split('/').filter((part) => part !== '' && part !== '.'));
        if (target.startsWith('/')) {
          const root = openSync('/', O_PATH | constants.O_DIRECTORY);
          closeSync(dirFd);
          dirFd = root;
          dirPath = '/';
        }
        if (queue.length === 0) throw unsafe(pinPath, `${path} links to a directory`, 'give the path of a pin file');
        continue;
      }
      if (queue.length === 0) return resolved(pinPath, dirFd, dirPath, name, { fd, stat }, made);
      if (!stat.isDirectory()) {
        closeSync(fd);
        throw missingDirectory(
          pinPath,
          dirFd,
          path,
          Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR' }),
        );
      }
      const problem = directoryProblem(stat);
      if (problem !== undefined) {
        closeSync(fd);
        throw unsafe(
          pinPath,
          `the directory ${path} ${problem}`,
          `pin the map in a directory only root can write, like /sys/fs/bpf/${posix.basename(pinPath)}, or have ` +
            `root remove ${path} (\`rm -r ${path}\` removes the pins in it) and recreate it`,
        );
      }
      if (reachableBy !== undefined && !made.includes(path) && !canSearch(stat, reachableBy)) {
        closeSync(fd);
        throw new TldError(
          UserspaceErrorCode.PERMISSION,
          `the members of ${describeGid(reachableBy)} could not reach ${pinPath}: ${path} (mode ` +
            `${octal(stat.mode)}, ${describeGid(stat.gid)}) does not let them search it. Nothing was changed. Fix: ` +
            `\`chgrp ${reachableBy} ${path} && chmod 0750 ${path}\`, or pin the map in a directory tld makes`,
        );
      }
      closeSync(dirFd);
      dirFd = fd;
      dirPath = path;
    }
  } catch (error) {
    closeSync(dirFd);
    // A failure past a directory this call made leaves nothing behind: ours, and empty but for the next one.
    for (const path of made.reverse()) {
      try {
        rmdirSync(path);
      } catch {
        // gone already, or someone put something in it: then it stays
      }
    }
    throw error;
  }
}

/** mkdir on bpffs only, then the new directory's descriptor; its group and mode are set through it. */
function makeDirectory(
  pinPath: string,
  dirFd: number,
  name: string,
  path: string,
  mode: number,
  gid: number | undefined,
): number {
  if (!fdOnBpffs(dirFd)) {
    throw new TldError(
      UserspaceErrorCode.NO_BPFFS,
      `${posix.dirname(path)} is not on bpffs, so ${pinPath} cannot be a pinned map: give a --pin under /sys/fs/bpf ` +
        '(mount it with `mount -t bpf bpf /sys/fs/bpf` when it is not mounted)',
    );
  }
  mkdirSync(fdPath(dirFd, name), { mode: 0o700 });
  const fd = openNoFollow(dirFd, name);
  const stat = fstatSync(fd);
  // Someone could have removed ours and put theirs in its place, in a directory others may write (sticky root).
  if (!stat.isDirectory() || stat.uid !== euid()) {
    closeSync(fd);
    throw unsafe(pinPath, `${path} was replaced by ${describeUid(stat.uid)} right after tld made it`, 'try again');
  }
  setAccess(fd, mode, gid);
  return fd;
}

/** Sets the permission bits and group of the file `fd` (an O_PATH descriptor of the checked pin). */
export function setAccess(fd: number, mode: number | undefined, gid: number | undefined): void {
  if (gid !== undefined) chownSync(fdPath(fd), -1, gid);
  if (mode !== undefined) chmodSync(fdPath(fd), mode); // after chown, which clears set-id bits
}
