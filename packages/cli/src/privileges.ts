// What this process may do with bpf(): root, or the capabilities the commands need (capability(7) numbers).
import { readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** The effective capability set of this process (CapEff of /proc/self/status). */
function effectiveCapabilities(): bigint {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match?.[1] ? BigInt(`0x${match[1]}`) : 0n;
}

export interface Privileges {
  readonly root: boolean;
  /** CAP_BPF, or CAP_SYS_ADMIN which implies it: creating maps and loading programs. */
  readonly bpf: boolean;
  /** CAP_PERFMON, or CAP_SYS_ADMIN: tracing programs such as the task iterator of `tld dump`. */
  readonly perfmon: boolean;
  /** How to describe them in one phrase. */
  readonly summary: string;
}

export function privileges(): Privileges {
  const caps = effectiveCapabilities();
  const has = (cap: number): boolean => (caps & (1n << BigInt(cap))) !== 0n;
  const root = process.geteuid?.() === 0;
  const admin = has(CAP_SYS_ADMIN);
  const bpf = admin || has(CAP_BPF);
  const perfmon = admin || has(CAP_PERFMON);
  const names = [admin && 'CAP_SYS_ADMIN', has(CAP_BPF) && 'CAP_BPF', has(CAP_PERFMON) && 'CAP_PERFMON'].filter(
    Boolean,
  );
  const summary = root
    ? 'root'
    : `uid ${process.geteuid?.() ?? '?'}${names.length > 0 ? ` with ${names.join(', ')}` : ', no BPF capabilities'}`;
  return { root, bpf, perfmon, summary };
}

/** The fix for a refused bpf() call made without the privilege it needs. */
export const PRIVILEGE_FIX =
  'run tld as root (sudo), or give it CAP_BPF and CAP_PERFMON; applications that only open the pin need ' +
  'read and write permission on the pin file, no capability';
