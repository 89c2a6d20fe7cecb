// Option values checked as they are parsed: a bad one is a usage error (exit status 2) that changes nothing.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PIN_PATH } from '@tld/protocol';

function parsePin(value: string): string {
  if (!isAbsolute(value) || value.includes('\0') || value.endsWith('/')) {
    throw new InvalidArgumentError(`the pin must be an absolute file path on bpffs, like ${DEFAULT_PIN_PATH}`);
  }
  return value;
}

/**
 * --pin PATH: the option, else $TLD_PIN (the variable @tld/userspace's open() reads too), else
 * /sys/fs/bpf/tld_data_map. Commander checks a TLD_PIN value with the same parser as the option.
 */
export function pinOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--pin <path>', 'where the map is pinned (a file on bpffs)')
      .default(DEFAULT_PIN_PATH)
      .env('TLD_PIN')
      .argParser(parsePin),
  );
}

/** The command that creates the map at `pinPath`, for messages. */
export function createHint(pinPath: string): string {
  return pinPath === DEFAULT_PIN_PATH ? 'npx tld map create' : `npx tld map create --pin ${pinPath}`;
}

/** -j/--json: every command has it. */
export function jsonOption(cmd: Command): Command {
  return cmd.option('-j, --json', 'print the result as JSON (errors too, with "ok": false)', false);
}

/**
 * An octal mode for the pin. The owner needs read and write (opening a pin asks for both); others get nothing:
 * whoever can open the map can point any task's storage at memory of their choosing.
 */
export function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError('give an octal mode like 0600 or 0660');
  const mode = Number.parseInt(value, 8);
  if ((mode & 0o600) !== 0o600)
    throw new InvalidArgumentError('the owner needs read and write permission (0600 at least)');
  if ((mode & 0o007) !== 0) {
    throw new InvalidArgumentError(
      "others must get no permission: whoever can open the map can point any task's storage at memory of their " +
        'choosing; share it with a group instead (--mode 0660 --group NAME)',
    );
  }
  if ((mode & 0o111) !== 0) throw new InvalidArgumentError('a pin is not executable: use only read and write bits');
  return mode;
}

/** A group name from /etc/group, or a numeric gid. */
export function parseGroup(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  let groups = '';
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    // no /etc/group: only numeric gids resolve
  }
  for (const line of groups.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === value && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new InvalidArgumentError(`no group named '${value}' in /etc/group: give an existing group or a numeric gid`);
}

export function parsePid(value: string): number {
  const pid = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x3fffffff)
    throw new InvalidArgumentError('give a process id, like 1234');
  return pid;
}

export function parseInterval(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
    throw new InvalidArgumentError('give the seconds between refreshes, from 0.1 to 3600');
  }
  return seconds;
}
