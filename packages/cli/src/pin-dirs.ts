// Pin directories: `tld map create` makes the missing ones and `tld map rm` removes them with the pin, but only
// those tld made. bpffs holds nothing but pins and directories, so the record lives in /run/tld (tmpfs: gone after
// a reboot, like the pins): one file per directory, named after its path, holding the directory's inode number so
// that a directory someone recreated since is never taken for ours.
import { mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHint } from './options.js';
import { CliError } from './output.js';

const RECORDS = '/run/tld/pin-dirs';
/** statfs f_type of bpffs (include/uapi/linux/magic.h BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

function recordPath(dir: string): string {
  return join(RECORDS, encodeURIComponent(dir));
}

/** ERR_TLD_NO_BPFFS: `dir`, where `pinPath` would be, is not on bpffs. */
export function notOnBpffs(dir: string, pinPath: string): CliError {
  return new CliError(
    'ERR_TLD_NO_BPFFS',
    `${dir} is not on bpffs, so ${pinPath} cannot be a pinned map: give a --pin under /sys/fs/bpf (mount it with ` +
      '`mount -t bpf bpf /sys/fs/bpf` when it is not mounted)',
  );
}

/** Records directories `tld map create` made (outermost first), so that `tld map rm` removes them again. */
export function recordPinDirs(dirs: readonly string[]): void {
  for (const path of dirs) {
    mkdirSync(RECORDS, { recursive: true, mode: 0o700 });
    writeFileSync(recordPath(path), String(statSync(path).ino), { mode: 0o600 });
  }
}

/** Removes directories `tld map create` made (innermost first) and their records. */
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

/**
 * Runs `use` with a path that reaches exactly the pin `pinPath` names once checked (no link or directory another
 * user controls on the way: ERR_TLD_UNSAFE_PIN_PATH), for code that opens the pin by path itself (the task
 * iterator's BPF_OBJ_GET). ERR_TLD_NO_MAP when nothing is pinned there.
 */
export async function withCheckedPin<T>(pinPath: string, use: (path: string) => T): Promise<T> {
  const { fdPath, resolvePin } = await import('@tld/userspace/pin-path');
  const pin = resolvePin(pinPath);
  try {
    if (pin.entry === undefined)
      throw new CliError('ERR_TLD_NO_MAP', `nothing is pinned at ${pinPath}: ${createHint(pinPath)} creates it`);
    return use(fdPath(pin.entry.fd));
  } finally {
    pin.close();
  }
}
