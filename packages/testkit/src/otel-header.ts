// What an OpenTelemetry profiler reading OTEP 4947 records sees of a thread (bpf/tld_otel_header.bpf.c): the walk
// of tld.bpf.h to the thread's current run() record, then the lead-in of that record's header. For the tests that
// prove a writer fills the trace context a span publishes.
import { ContextFrom, type MapPlacement, loadObject, names as bpfNames, testRun } from '@tld/bpf-programs';
import { OtelHeaderLayout } from './layout.js';
import { names, objectPaths } from './objects.js';

/** One reading of the calling thread. */
export interface OtelHeaderReading {
  /** tld_object_init(): 0, or -ENODATA (-61) for a thread that never registered. */
  readonly initErr: number;
  /**
   * Where the walk led: 'record' (a live run's record, whose lead-in the fields below are), 'none' (outside any
   * run, or no walk published), or the negative errno of a walk that found no valid record (-ESTALE, -116: the
   * run ended; -EINVAL, -EFAULT, -EAGAIN).
   */
  readonly walk: 'record' | 'none' | number;
  /** The lead-in's fields, hex ids in W3C order; zeros unless `walk` is 'record'. */
  readonly traceId: string;
  readonly spanId: string;
  readonly valid: number;
  readonly traceFlags: number;
  readonly attrsDataSize: number;
}

/** A loaded tld_otel_header.bpf.o. */
export interface OtelHeaderReader {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` (the reader keeps ownership). */
  readonly mapFd: number;
  /** Runs tld_read_otel_header on the calling thread. Throws BpfSyscallError when BPF_PROG_TEST_RUN fails. */
  read(): OtelHeaderReading;
  /** Closes the object and removes pins it created. Idempotent. */
  close(): void;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A struct tld_otel_header_ctx as the program left it. */
function decodeReading(ctx: Uint8Array): OtelHeaderReading {
  const L = OtelHeaderLayout;
  const view = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  const walk = view.getInt32(L.walkOffset, true);
  return {
    initErr: view.getInt32(L.initErrOffset, true),
    walk: walk === ContextFrom.CONTEXT ? 'record' : walk === ContextFrom.PAGE ? 'none' : walk,
    traceId: hex(ctx.subarray(L.traceIdOffset, L.traceIdOffset + L.traceIdBytes)),
    spanId: hex(ctx.subarray(L.spanIdOffset, L.spanIdOffset + L.spanIdBytes)),
    valid: view.getUint8(L.validOffset),
    traceFlags: view.getUint8(L.traceFlagsOffset),
    attrsDataSize: view.getUint16(L.attrsDataSizeOffset, true),
  };
}

/**
 * Loads tld_otel_header.bpf.o with tld_data_map private (default), pinned at / reused from `{ pinPath }`, or
 * `{ mapFd }`. Throws BpfSyscallError when loading fails.
 */
export function loadOtelHeaderReader(options: { map?: MapPlacement } = {}): OtelHeaderReader {
  const obj = loadObject(objectPaths.otelHeader, { [bpfNames.dataMap]: options.map ?? 'private' });
  const progFd = obj.progFd(names.otelHeaderProgram);
  return {
    mapFd: obj.mapFd(bpfNames.dataMap),
    read() {
      const ctx = new Uint8Array(OtelHeaderLayout.ctxSize);
      testRun(progFd, ctx, 'BPF_PROG_TEST_RUN(tld_read_otel_header)');
      return decodeReading(ctx);
    },
    close() {
      obj.dispose();
    },
  };
}
