// tld status: can this host run task local data? Each check is ok or missing, with the fix; the uptr check is
// done for real, on a throw-away map.
import { existsSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import type { Command } from 'commander';
import { explain } from '../explain.js';
import { ExitCode, type RunState, action, columns, octal, output } from '../output.js';
import { layoutOf } from '../layouts.js';
import { createHint, jsonOption, pinOption } from '../options.js';
import { BPF_FS_MAGIC } from '../pin-dirs.js';
import { PRIVILEGE_FIX, privileges } from '../privileges.js';

/** First kernel with __uptr fields in task storage (PROTOCOL.md §1). */
const MIN_KERNEL = [6, 13] as const;

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What to do when not ok. */
  readonly fix?: string;
  /** The pin check: which map layout the pin holds (16: 'selftests-6.18', 24: 'start-in-value'). */
  readonly layout?: string;
}

function ok(name: string, detail: string): Check {
  return { name, ok: true, detail };
}

function missing(name: string, detail: string, fix: string): Check {
  return { name, ok: false, detail, fix };
}

function kernel(): Check {
  const version = release();
  const [major = 0, minor = 0] = version.split(/[.-]/).map(Number);
  const recent = major > MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]);
  return recent
    ? ok('kernel', `Linux ${version}`)
    : missing(
        'kernel',
        `Linux ${version}`,
        `upgrade to Linux ${MIN_KERNEL.join('.')} or later: task storage with uptr pages`,
      );
}

function btf(): Check {
  return existsSync('/sys/kernel/btf/vmlinux')
    ? ok('btf', '/sys/kernel/btf/vmlinux')
    : missing('btf', 'no /sys/kernel/btf/vmlinux', 'boot a kernel built with CONFIG_DEBUG_INFO_BTF=y');
}

function bpffs(): Check {
  let type = 0;
  try {
    type = statfsSync('/sys/fs/bpf').type;
  } catch {
    // missing directory: reported below
  }
  return type === BPF_FS_MAGIC
    ? ok('bpffs', 'mounted at /sys/fs/bpf')
    : missing('bpffs', '/sys/fs/bpf is not a bpffs mount', 'mount -t bpf bpf /sys/fs/bpf');
}

function privilegeCheck(): Check {
  const p = privileges();
  return p.root || (p.bpf && p.perfmon)
    ? ok('privileges', p.summary)
    : missing('privileges', `${p.summary}: creating the map, dump and the checks below need more`, PRIVILEGE_FIX);
}

async function libbpf(): Promise<Check> {
  try {
    const { libbpfVersion } = await import('@tld/bpf-programs');
    return ok('libbpf', `${libbpfVersion()} (the loader addon of @tld/bpf-programs loaded)`);
  } catch (error) {
    return missing('libbpf', 'the loader addon of @tld/bpf-programs did not load', explain(error).message);
  }
}

/**
 * Registers this thread in a private map, which only works when the kernel pins its pages as uptrs. The map comes
 * with the task iterator `tld dump` uses, so loading it also checks that the kernel accepts that program.
 */
async function uptr(): Promise<Check> {
  try {
    const { loadTaskIterator } = await import('@tld/bpf-programs');
    const { TaskLocalData } = await import('@tld/userspace');
    const iterator = loadTaskIterator({ map: 'private' });
    try {
      TaskLocalData.open({ mapFd: iterator.mapFd }).close();
    } finally {
      iterator.close();
    }
    return ok('uptr', "the kernel pinned this thread's pages in a throw-away task-storage map");
  } catch (error) {
    const { message } = explain(error);
    return missing('uptr', 'registering a thread in a throw-away map failed', message);
  }
}

async function pin(pinPath: string): Promise<Check> {
  try {
    const { inspectPinnedMap } = await import('@tld/userspace');
    const map = inspectPinnedMap(pinPath);
    const { description, revision } = layoutOf(map.valueSize);
    const detail = `${pinPath}: map ${map.id} (${map.name}), ${description}, mode ${octal(map.mode)}, uid ${map.uid}`;
    const check =
      (map.mode & 0o007) !== 0
        ? missing(
            'pin',
            detail,
            `any user can open it and point any task's storage at their memory: chmod 600 ${pinPath}`,
          )
        : ok('pin', detail);
    return { ...check, layout: revision };
  } catch (error) {
    const { code, message } = explain(error);
    if (code === 'ERR_TLD_NO_MAP') {
      return missing('pin', `nothing is pinned at ${pinPath}`, createHint(pinPath));
    }
    return missing('pin', `${pinPath} cannot be used`, message);
  }
}

export async function statusChecks(pinPath: string): Promise<Check[]> {
  return [kernel(), btf(), bpffs(), privilegeCheck(), await libbpf(), await uptr(), await pin(pinPath)];
}

export function statusCommand(program: Command, state: RunState): void {
  const cmd = program
    .command('status')
    .description('check that this host can run task local data: kernel, BTF, bpffs, privileges, libbpf, uptr, the pin')
    .addHelpText('after', '\nExit status 0 when every check is ok, 1 when one is missing (each says how to fix it).');
  pinOption(jsonOption(cmd)).action(
    action(state, async (opts: { pin: string; json: boolean }) => {
      const checks = await statusChecks(opts.pin);
      const allOk = checks.every((c) => c.ok);
      const rows = checks.flatMap((c) => [
        [c.name, c.ok ? 'ok' : 'missing', c.detail],
        ...(c.fix ? [['', '', `fix: ${c.fix}`]] : []),
      ]);
      output(opts.json).result({ ok: allOk, checks }, columns(rows));
      return allOk ? ExitCode.OK : ExitCode.FAILURE;
    }),
  );
}
