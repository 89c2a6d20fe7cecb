// tld map create | show | rm: the pinned tld_data_map every process on the host registers its threads in. Pin paths
// are resolved by @tld/userspace/pin-path (no link or directory an untrusted user controls is followed), and the
// pin's mode and group are set through the descriptor of the pin that was checked, never by path again.
import { unlinkSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { MAP_NAME } from '@tld/protocol';
import type { PinnedMap } from '@tld/userspace';
import type { ResolvedPin } from '@tld/userspace/pin-path';
import { explain } from '../explain.js';
import { CliError, ExitCode, type RunState, action, columns, octal, output } from '../output.js';
import { DEFAULT_VALUE_SIZE, type ValueSize, layoutOf, parseValueSize } from '../layouts.js';
import { createHint, jsonOption, parseGroup, parseMode, pinOption } from '../options.js';
import { notOnBpffs, recordPinDirs, removeCreatedPinDirs, removeDirs, withCheckedPin } from '../pin-dirs.js';
import { PRIVILEGE_FIX, privileges } from '../privileges.js';

function notADirectory(pinPath: string): CliError {
  return new CliError(
    'ERR_TLD_PIN_IS_DIRECTORY',
    `${pinPath} is a directory: give the path of the pin file, like ${pinPath.replace(/\/$/, '')}/${MAP_NAME}`,
  );
}

/** Why inspectPinnedMap() refused a pin that holds some BPF object; undefined for other errors. */
function foreignObject(error: unknown): string | undefined {
  const { code } = explain(error);
  if (code === 'ERR_TLD_MAP_TYPE') return 'it holds a BPF object that is not a task-storage map';
  if (code === 'ERR_TLD_VALUE_SIZE') return 'it holds a task-storage map whose values are not struct tld_map_value';
  return undefined;
}

function describe(map: PinnedMap): string {
  return `map ${map.id} (${map.name}), ${layoutOf(map.valueSize).description}, mode ${octal(map.mode)}, uid ${map.uid}, gid ${map.gid}`;
}

interface CreateOptions {
  pin: string;
  mode?: number;
  group?: number;
  /** Undefined: DEFAULT_VALUE_SIZE for a new map, and any size for a kept one. */
  valueSize?: ValueSize;
  json: boolean;
}

/** Permission bits of the directories `map create` makes: the group may search them when the pin is shared. */
function dirMode(group: number | undefined): number {
  return group === undefined ? 0o700 : 0o750;
}

/** The checked pin path, or undefined when a directory on the way is missing (inside bpffs). */
function resolveExisting(
  resolvePin: typeof import('@tld/userspace/pin-path').resolvePin,
  pin: string,
  group: number | undefined,
): ResolvedPin | undefined {
  try {
    return resolvePin(pin, { reachableBy: group });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_TLD_NO_MAP') return undefined;
    throw error;
  }
}

async function create(opts: CreateOptions): Promise<ExitCode> {
  const { pin, mode, group } = opts;
  if (mode !== undefined && (mode & 0o070) !== 0 && group === undefined) {
    return output(opts.json).usage(
      new CliError(
        'ERR_TLD_MODE_NEEDS_GROUP',
        `--mode ${octal(mode)} gives the pin's group access, but no --group says which group: add --group NAME (the ` +
          'group of the users who run the applications), or leave --mode out for 0600. Nothing was done',
      ),
    );
  }
  const { inspectPinnedMap } = await import('@tld/userspace');
  const { describeUid, fdOnBpffs, fdPath, resolvePin, setAccess } = await import('@tld/userspace/pin-path');
  let resolved = resolveExisting(resolvePin, pin, group);
  let createdDirs: string[] = [];
  const created = resolved?.entry === undefined;
  try {
    if (resolved?.entry?.stat.isDirectory()) throw notADirectory(pin);
    if (created) {
      const p = privileges();
      if (!p.root && !p.bpf) {
        throw new CliError(
          'ERR_TLD_PERMISSION',
          `creating a BPF map needs root or CAP_BPF; this process is ${p.summary}: ${PRIVILEGE_FIX}`,
        );
      }
      resolved ??= resolvePin(pin, { makeDirs: { mode: dirMode(group), gid: group }, reachableBy: group });
      createdDirs = [...resolved.made];
      recordPinDirs(createdDirs);
      try {
        if (!fdOnBpffs(resolved.dirFd)) throw notOnBpffs(resolved.dirPath, pin);
        // libbpf creates tld_data_map from an object's definition and pins it (0600) in the directory that was
        // checked, through its descriptor: a link planted at the name since makes the pin fail (EEXIST). Each build
        // of the iterator declares the map value of its revision.
        const { loadObject, names, iterObjectPath } = await import('@tld/bpf-programs');
        loadObject(iterObjectPath(opts.valueSize ?? DEFAULT_VALUE_SIZE), {
          [names.dataMap]: { pinPath: fdPath(resolved.dirFd, resolved.name) },
        }).close();
      } catch (error) {
        resolved.close();
        resolved = undefined;
        removeDirs(createdDirs);
        throw error;
      }
      resolved.close();
      resolved = resolvePin(pin, { reachableBy: group }); // the pin just made, checked like any other
    }
    const entry = resolved?.entry;
    if (entry === undefined)
      throw new CliError('ERR_TLD_NO_MAP', `${pin} disappeared while tld was creating it: run the command again`);
    if (entry.stat.uid !== 0 && entry.stat.uid !== process.geteuid?.()) {
      throw new CliError(
        'ERR_TLD_PIN_TAKEN',
        `${pin} is taken: it belongs to ${describeUid(entry.stat.uid)}, who can point any task's storage at memory ` +
          'of their choosing through it. Nothing was changed. Remove it (`sudo rm ' +
          pin +
          '`) and create the map ' +
          'again, or choose another --pin',
      );
    }
    if (!created) {
      let existing: PinnedMap;
      try {
        existing = inspectPinnedMap(pin);
      } catch (error) {
        const reason = foreignObject(error);
        if (reason === undefined) throw error;
        throw new CliError(
          'ERR_TLD_PIN_TAKEN',
          `${pin} is taken: ${reason}. Choose another --pin, or, if no program uses it any more, remove it with ` +
            `\`npx tld map rm --pin ${pin} --force\``,
          { cause: error },
        );
      }
      if (opts.valueSize !== undefined && existing.valueSize !== opts.valueSize) {
        throw new CliError(
          'ERR_TLD_VALUE_SIZE',
          `${pin} already holds a map of ${existing.valueSize}-byte values, not ${opts.valueSize}: programs that declare ` +
            `the other layout cannot reuse it. Keep it (leave out --value-size), or, once nothing uses it, remove it ` +
            `with \`npx tld map rm --pin ${pin}\` and create it again`,
        );
      }
    }
    setAccess(entry.fd, mode, group);
  } finally {
    resolved?.close();
  }
  const map = inspectPinnedMap(pin);
  output(opts.json).result(
    {
      pin,
      created,
      mapId: map.id,
      valueSize: map.valueSize,
      layout: layoutOf(map.valueSize).revision,
      mode: octal(map.mode),
      uid: map.uid,
      gid: map.gid,
      createdDirs,
    },
    created
      ? `created ${pin}: ${describe(map)}${createdDirs.length ? ` (made ${createdDirs.join(', ')})` : ''}`
      : `${pin} already holds a task-local-data map: kept it (${describe(map)})`,
  );
  return ExitCode.OK;
}

async function show(opts: { pin: string; json: boolean }): Promise<ExitCode> {
  const { TaskLocalData, inspectPinnedMap } = await import('@tld/userspace');
  const map = inspectPinnedMap(opts.pin);
  let threads: { threads: number; processes: number } | undefined;
  let threadsNote = '';
  try {
    const { loadTaskIterator } = await import('@tld/bpf-programs');
    const iterator = await withCheckedPin(opts.pin, (pinPath) => loadTaskIterator({ map: { pinPath } }));
    try {
      const all = iterator.readTasks().filter((t) => t.registered);
      threads = { threads: all.length, processes: new Set(all.map((t) => t.tgid)).size };
    } finally {
      iterator.close();
    }
  } catch (error) {
    threadsNote = explain(error).message;
  }
  // Registering this thread is the only way to learn whether the kernel pins pages through this map (uptr). It
  // comes after the count: the registration lasts until this process exits (TaskLocalData.close() keeps it).
  TaskLocalData.open({ pinPath: opts.pin }).close();
  // Group access is how a pin is shared on purpose (--group); access for every user is what nobody intends.
  const loose = (map.mode & 0o007) !== 0;
  const rows = [
    ['map', `id ${map.id}, ${map.name}, task storage`],
    ['layout', layoutOf(map.valueSize).description],
    ['pin', `mode ${octal(map.mode)}, uid ${map.uid}, gid ${map.gid}`],
    ...(loose ? [['', `warning: every user may open it: chmod o-rwx ${opts.pin} (or chmod 600 ${opts.pin})`]] : []),
    ['uptr', "the kernel pins registered threads' pages"],
    [
      'threads',
      threads
        ? `${threads.threads} registered, in ${threads.processes} process${threads.processes === 1 ? '' : 'es'} (tld dump lists them)`
        : `unknown: ${threadsNote}`,
    ],
  ];
  output(opts.json).result(
    {
      pin: opts.pin,
      mapId: map.id,
      name: map.name,
      valueSize: map.valueSize,
      layout: layoutOf(map.valueSize).revision,
      mode: octal(map.mode),
      uid: map.uid,
      gid: map.gid,
      looseMode: loose,
      uptr: true,
      ...(threads ?? {}),
    },
    `${opts.pin}\n${columns(rows.map((r) => ['  ' + (r[0] ?? ''), r[1] ?? '']))}`,
  );
  return ExitCode.OK;
}

async function remove(opts: { pin: string; force: boolean; json: boolean }): Promise<ExitCode> {
  const { pin } = opts;
  const { fdOnBpffs, fdPath, resolvePin } = await import('@tld/userspace/pin-path');
  const resolved = resolvePin(pin);
  try {
    if (resolved.entry === undefined) {
      throw new CliError(
        'ERR_TLD_NO_MAP',
        `nothing is pinned at ${pin}: nothing to remove (${createHint(pin)} creates it)`,
      );
    }
    if (resolved.entry.stat.isDirectory()) throw notADirectory(pin);
    // Only pins: never unlink a file outside bpffs, --force or not.
    if (!fdOnBpffs(resolved.dirFd)) throw notOnBpffs(resolved.dirPath, pin);
    if (!opts.force) {
      const { inspectPinnedMap } = await import('@tld/userspace');
      let reason: string | undefined;
      try {
        const map = inspectPinnedMap(pin);
        if (map.name !== MAP_NAME) reason = `its map is named ${JSON.stringify(map.name)}, not ${MAP_NAME}`;
      } catch (error) {
        reason = foreignObject(error);
        if (reason === undefined) throw error;
      }
      if (reason !== undefined) {
        throw new CliError(
          'ERR_TLD_NOT_TLD_MAP',
          `refusing to remove ${pin}: ${reason}, so it is not a task-local-data map. Nothing was removed; if no ` +
            `program uses it any more, remove it anyway with \`npx tld map rm --pin ${pin} --force\``,
        );
      }
    }
    unlinkSync(fdPath(resolved.dirFd, resolved.name));
  } finally {
    resolved.close();
  }
  const removedDirs = removeCreatedPinDirs(pin);
  output(opts.json).result(
    { pin, removed: true, forced: opts.force, removedDirs },
    `removed ${pin}${removedDirs.length ? ` and ${removedDirs.join(', ')}` : ''} (programs and processes that hold ` +
      'the map keep it until they close it)',
  );
  return ExitCode.OK;
}

export function mapCommand(program: Command, state: RunState): void {
  const map = program
    .command('map')
    .description('create, show or remove the pinned map tld_data_map')
    .addHelpText('after', `\nRun "tld help map <command>" or "tld map <command> --help" for each one.`);

  const createCmd = map
    .command('create')
    .description('create tld_data_map and pin it (mode 0600); a task-local-data map already pinned there is kept')
    .addOption(
      new Option('--mode <octal>', 'permission bits of the pin: 0600, or 0660 with --group').argParser(parseMode),
    )
    .addOption(
      new Option('--group <name>', 'group of the pin (a name or a gid), for --mode 0660').argParser(parseGroup),
    )
    .addOption(
      new Option(
        '--value-size <bytes>',
        '16 (default: the Linux 6.18 selftest revision, what tld.bpf.h declares) or 24 (the later revision, start in the value)',
      ).argParser(parseValueSize),
    )
    .addHelpText(
      'after',
      '\nMissing directories above the pin are made (mode 0700; 0750 and the group with --group); `tld map rm` ' +
        'removes them again.\nThe pin path may not pass through a link or a directory that another user owns or can write.\n' +
        'libbpf reuses a pinned map only for programs that declare the same value size: pick the one your BPF\n' +
        "programs' header declares. A map already pinned is kept; with --value-size it must have that size.",
    );
  pinOption(jsonOption(createCmd)).action(action(state, create));

  const showCmd = map
    .command('show')
    .description(
      'open the pinned map as applications do and show it: id, value size, pin mode, uptr, registered threads',
    );
  pinOption(jsonOption(showCmd)).action(action(state, show));

  const rmCmd = map
    .command('rm')
    .alias('remove')
    .description(
      'unpin the map (with the directories `tld map create` made for it); refuses a pin that is not a task-local-data map',
    )
    .option('-f, --force', 'remove the pin even when it is not a task-local-data map', false);
  pinOption(jsonOption(rmCmd)).action(action(state, remove));
}
