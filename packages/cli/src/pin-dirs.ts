// Pin directories: `tld map create` makes the missing ones and `tld map rm` removes them with the pin, but only
// those tld made. bpffs holds nothing but pins and directories, so the record lives in /run/tld (tmpfs: gone after
// a reboot, like the pins): one file per directory, named after its path, holding the directory's inode number so
// that a directory someone recreated since is never taken for ours.
import { mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError } from './output.js';

const RECORDS = '/run/tld/pin-dirs';
/** statfs f_type of bpffs (include/uapi/linux/magic.h BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

function recordPath(dir: string): string {
  return join(RECORDS, encodeURIComponent(dir));
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Throws ERR_TLD_NO_BPFFS unless `dir` (an existing directory) is on bpffs. */
export function checkOnBpffs(dir: string, pinPath: string): void {
  const type = statfsSync(dir).type;
  if (type !== BPF_FS_MAGIC) {
    throw new CliError(
      'ERR_TLD_NO_BPFFS',
      `${dir} is not on bpffs (filesystem type 0x${type.toString(16)}), so ${pinPath} cannot be a pinned map: ` +
        'give a --pin under /sys/fs/bpf (mount it with `mount -t bpf bpf /sys/fs/bpf` when it is not mounted)',
    );
  }
}

/**
 * Makes the missing directories above `pinPath` (mode 0700, on bpffs only) and records them. Returns them, the
 * outermost first; undo with removeDirs() when what follows fails.
 */
export function makePinDirs(pinPath: string): string[] {
  const missing: string[] = [];
  let dir = dirname(pinPath);
  while (!exists(dir)) {
    missing.unshift(dir);
    dir = dirname(dir);
  }
  checkOnBpffs(dir, pinPath);
  const made: string[] = [];
  try {
    for (const path of missing) {
      mkdirSync(path, { mode: 0o700 });
      made.push(path);
      mkdirSync(RECORDS, { recursive: true, mode: 0o700 });
      writeFileSync(recordPath(path), String(statSync(path).ino), { mode: 0o600 });
    }
  } catch (error) {
    removeDirs(made);
    throw error;
  }
  return made;
}

/** Removes directories made by makePinDirs (innermost first) and their records. */
export function removeDirs(dirs: readonly string[]): void {
  for (const dir of [...dirs].reverse()) {
    rmdirSync(dir);
    rmSync(recordPath(dir), { force: true });
  }
}

function recordedInode(dir: string): string | undefined {
  try {
    return readFileSync(recordPath(dir), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * After the pin is gone: removes the directories above it that `tld map create` made, innermost first, while
 * they are empty. Returns the removed ones.
 */
export function removeCreatedPinDirs(pinPath: string): string[] {
  const removed: string[] = [];
  for (let dir = dirname(pinPath); dir !== dirname(dir); dir = dirname(dir)) {
    const inode = recordedInode(dir);
    if (inode === undefined) break;
    let stat;
    try {
      stat = statSync(dir);
    } catch {
      rmSync(recordPath(dir), { force: true }); // already gone
      continue;
    }
    if (String(stat.ino) !== inode) {
      rmSync(recordPath(dir), { force: true }); // recreated by someone else: theirs
      break;
    }
    if (readdirSync(dir).length > 0) break;
    removeDirs([dir]);
    removed.push(dir);
  }
  return removed;
}
