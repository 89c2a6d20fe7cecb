// How a server thread publishes the current request's values with task local data while it works on it, and
// meters the CPU time it spends: the app's own measurement, which the BPF profiler's numbers are compared with.
import { threadCpuTimeNs } from '@tld/bpf-programs';
import { ROUTE_KEY_BYTES } from '@tld/profiler';
import type { StringKey, TaskLocalData, U64Key } from '@tld/userspace';
import type { Step } from './workload.js';

/** The values one request publishes. */
export interface RequestValues {
  readonly route: string;
  readonly tenant: string;
  readonly reqId: bigint;
}

/** The demo's keys: the same names and sizes in every thread (`route` has the size the profiler reads). */
export interface DemoKeys {
  readonly route: StringKey;
  readonly tenant: StringKey;
  readonly reqId: U64Key;
}

export const TENANT_BYTES = 16;

export function createKeys(tld: TaskLocalData): DemoKeys {
  return {
    route: tld.string('route', ROUTE_KEY_BYTES),
    tenant: tld.string('tenant', TENANT_BYTES),
    reqId: tld.u64('req_id'),
  };
}

/** CPU time this thread's handlers measured, per route. */
export type Tally = Map<string, number>;

/** Runs request handlers on the calling thread, adding each request's CPU time to the thread's tally. */
export interface RequestRunner {
  readonly tally: Tally;
  /**
   * Serves one request: `handler` computes the body through steps, then `respond` sends it, still on behalf of
   * the request (its values published), as a server writes its answer before it forgets the request.
   */
  run(values: RequestValues, handler: (step: Step) => Promise<string>, respond: (body: string) => void): Promise<void>;
}

/** What a step does around its piece of work, besides timing it: publish the request's values, then clear them. */
interface Around {
  enter(): void;
  leave(): void;
}

/**
 * A step of one request that times its piece with CLOCK_THREAD_CPUTIME_ID (Node 20 has no per-thread CPU usage
 * call: process.threadCpuUsage() arrived in 23.9, so @tld/bpf-programs' addon reads the clock) and adds the time to
 * the request's route in `tally`: once just before `around` publishes, once just before it clears, as per-request
 * instrumentation records a request's cost while it still knows the request. Each read is a syscall, and the
 * profiler ends a thread's piece of on-CPU time at every syscall, so BPF's pieces start and end where the app's
 * measurement does; what BPF adds is which route each piece belongs to, read in the kernel at the piece's end.
 */
function meteredStep(tally: Tally, route: string, around?: Around): Step {
  return (piece) => {
    const start = threadCpuTimeNs();
    around?.enter();
    try {
      return piece();
    } finally {
      tally.set(route, (tally.get(route) ?? 0) + threadCpuTimeNs() - start);
      around?.leave();
    }
  };
}

/**
 * Threads mode: each synchronous step publishes the request's values, runs, and clears them; between steps (while
 * the handler awaits) the thread serves other requests and publishes theirs. The last step sends the response.
 */
export function stepRunner(keys: DemoKeys): RequestRunner {
  const tally: Tally = new Map();
  return {
    tally,
    async run(values, handler, respond) {
      const step = meteredStep(tally, values.route, {
        enter() {
          keys.route.set(values.route);
          keys.tenant.set(values.tenant);
          keys.reqId.set(values.reqId); // last: the profiler reads route only while req_id is non-zero
        },
        leave() {
          keys.reqId.set(0n); // first: from here on the thread is between requests
          keys.route.set('');
          keys.tenant.set('');
        },
      });
      const body = await handler(step);
      step(() => respond(body));
    },
  };
}

/**
 * Single-thread mode: tld.run() publishes the request's values for its whole async flow, response included, so
 * they follow the request across its awaits while other requests interleave on the same thread; steps only meter
 * CPU time. req_id is listed last, so a run() that stores in order publishes it after route is complete.
 */
export function contextRunner(tld: TaskLocalData): RequestRunner {
  const tally: Tally = new Map();
  return {
    tally,
    async run(values, handler, respond) {
      const step = meteredStep(tally, values.route);
      await tld.run({ route: values.route, tenant: values.tenant, req_id: values.reqId }, async () => {
        const body = await handler(step);
        step(() => respond(body));
      });
    },
  };
}
