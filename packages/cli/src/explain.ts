// Turns any error into one message that names the cause and the fix, with a stable code. The library's TldErrors
// (ERR_TLD_ADDON from the addon loaders included) and CliErrors already do; a failed bpf() or libbpf call is
// reworded here: its first line only (never libbpf's raw log), and a
// refusal for lack of privilege says so instead of libbpf's RLIMIT_MEMLOCK hint.
import { CliErrorCode } from './errors.js';
import { privileges, PRIVILEGE_FIX } from './privileges.js';

export interface Explained {
  readonly code: string;
  readonly message: string;
}

interface Coded {
  code?: unknown;
  errnoCode?: unknown;
  syscall?: unknown;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** Code and message of `error`, as `tld` prints them. */
export function explain(error: unknown): Explained {
  if (!(error instanceof Error)) return { code: CliErrorCode.INTERNAL, message: String(error) };
  const { code, errnoCode, syscall } = error as Error & Coded;
  // BpfSyscallError (errnoCode) or Node's own fs errors (code 'EACCES'): the kernel or libbpf refused.
  const errno =
    typeof errnoCode === 'string'
      ? errnoCode
      : typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)
        ? code
        : undefined;
  if (errno !== undefined && typeof syscall === 'string') {
    if (errno === 'EPERM' || errno === 'EACCES') {
      const call = syscall.replace(/\(.*$/s, ''); // bpf_object__load(/path/x.bpf.o) -> bpf_object__load
      return {
        code: CliErrorCode.PERMISSION,
        message: `the kernel refused ${call} (${errno}) to this process, ${privileges().summary}: ${PRIVILEGE_FIX}`,
      };
    }
    return {
      code: typeof code === 'string' && code.startsWith('ERR_TLD_') ? code : CliErrorCode.SYSCALL,
      message: firstLine(error.message),
    };
  }
  if (typeof code === 'string' && code.startsWith('ERR_TLD_')) return { code, message: error.message };
  return { code: CliErrorCode.INTERNAL, message: error.stack ?? error.message };
}
