// Private pages for TaskLocalData.open({ ifUnavailable: 'noop' }): on a host without the kernel feature (or
// without the map), keys still work — same validation, same slots and offsets — on memory no BPF program sees,
// so a service ships one code path everywhere.
import { type Layout, TldError, TypedArrayMemory, initDataPage, initMetaPage } from '@tld/protocol';

interface PrivatePages {
  readonly layout: Layout;
  readonly meta: TypedArrayMemory;
  readonly data: ArrayBuffer;
}

// One pair per thread, like the real pages: each worker runs its own instance of this module.
let pages: PrivatePages | undefined;
let warned = false;

/** This thread's private metadata and data pages, initialised as @tld/protocol initialises real ones. */
export function privatePages(layout: Layout): PrivatePages {
  if (pages?.layout !== layout) {
    const meta = new ArrayBuffer(layout.pageSize);
    initMetaPage(new TypedArrayMemory(meta), layout);
    const data = new ArrayBuffer(layout.pageSize);
    initDataPage(new Uint8Array(data));
    pages = { layout, meta: new TypedArrayMemory(meta), data };
  }
  return pages;
}

/**
 * Whether a failed open() may fall back to private pages: every TldError says the host, the map or the process
 * lacks something (kernel support, bpffs, the pin, permission, a usable page). Argument errors are the caller's
 * bug and still throw.
 */
export function isUnavailable(error: unknown): error is TldError {
  return error instanceof TldError;
}

/** Says once per thread that values go nowhere, so an operator sees why BPF reads nothing. */
export function warnUnavailable(reason: TldError): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `task-local data is unavailable (${reason.code}): keys store into private memory that BPF cannot read. ${reason.message}`,
    { type: 'TldUnavailableWarning', code: 'TLD_UNAVAILABLE' },
  );
}
