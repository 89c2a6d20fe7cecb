// Whether the BPF tests can run here, and the rule that keeps CI honest: a test may skip only on a typed
// NotSupportedError for a machine that really lacks the feature, and never under TLD_REQUIRE_BPF=1.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { loadReader } from '@tld/bpf-programs';
import { BpfSyscallError, NotSupportedError } from '@tld/protocol';

/** True when env TLD_REQUIRE_BPF=1: tests needing BPF must fail, never skip. */
export function bpfRequired(): boolean {
  return process.env['TLD_REQUIRE_BPF'] === '1';
}

/** uptr fields in task storage (the kernel pins user pages) arrived in Linux 6.13. */
export const UPTR_MIN_KERNEL = '6.13';

/** Whether `rel` (default: the running kernel's release) is at least `min` ("6.13"). */
export function kernelAtLeast(min: string, rel = release()): boolean {
  const have = rel.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const want = min.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    const w = want[i] ?? 0;
    if (Number.isNaN(h)) return false;
    if (h !== w) return h > w;
  }
  return true;
}

/** Classifies a failure to load the reader: NotSupportedError only when the machine really lacks the feature. */
function classify(err: unknown): NotSupportedError | undefined {
  if (!(err instanceof BpfSyscallError)) return undefined;
  if (err.errnoCode === 'EPERM' || err.errnoCode === 'EACCES') {
    return new NotSupportedError(
      'bpf() permission',
      undefined,
      'bpf() was refused: run as root or with CAP_BPF + CAP_PERFMON (and CAP_SYS_ADMIN for BPF_PROG_TEST_RUN ' +
        'of syscall programs)',
      { cause: err },
    );
  }
  if (err.errnoCode === 'ENOSYS') {
    return new NotSupportedError('bpf() syscall', undefined, 'this kernel has no bpf() syscall', { cause: err });
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    return new NotSupportedError(
      'kernel BTF',
      UPTR_MIN_KERNEL,
      'the kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y',
      { cause: err },
    );
  }
  // A kernel that should support uptr but refused it is a bug to report, not a reason to skip.
  if (!kernelAtLeast(UPTR_MIN_KERNEL)) {
    return new NotSupportedError(
      'uptr in task storage',
      UPTR_MIN_KERNEL,
      `kernel ${release()} predates uptr support (Linux ${UPTR_MIN_KERNEL}): ${err.message}`,
      { cause: err },
    );
  }
  return undefined;
}

export type BpfSupport = { supported: true } | { supported: false; reason: NotSupportedError };
let probed: BpfSupport | undefined;

/**
 * Loads the reader once to see whether BPF task local data works here. Returns `{ supported: true }`, or
 * `{ supported: false, reason }` with a NotSupportedError tests may skip on. Throws that NotSupportedError when
 * TLD_REQUIRE_BPF=1, and rethrows any other failure (a broken build or a kernel that should have worked).
 */
export function bpfSupport(): BpfSupport {
  if (!probed) {
    try {
      loadReader().close();
      probed = { supported: true };
    } catch (err) {
      const reason = classify(err);
      if (!reason) throw err;
      probed = { supported: false, reason };
    }
  }
  if (!probed.supported && bpfRequired()) throw probed.reason;
  return probed;
}
