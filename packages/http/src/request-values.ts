// What both framework adapters share: which keys a request publishes, its id, and one run() per request that
// lasts until the response is done. The run's promise settles on the response's 'close' (sent, or the connection
// gone), because with the async-context walk a run stops being visible when its function's promise settles.
import { AsyncResource } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import { threadId } from 'node:worker_threads';
import type { RunValues, StringKey, TaskLocalData, U64Key } from '@tld/userspace';

/** Options of the express middleware and the fastify plugin. `Req` is the framework's request object. */
export interface RequestValuesOptions<Req> {
  /** The key the route pattern goes to. Default `tld.string('route', 64, { truncate: true })`. */
  readonly routeKey?: StringKey;
  /** The key the request id goes to. Default `tld.u64('req_id')`. */
  readonly reqIdKey?: U64Key;
  /**
   * The request's id. Default: this thread's counter from 1, with the worker's threadId in the top 16 bits, so
   * ids are unique in the process.
   */
  readonly reqId?: (req: Req) => bigint;
  /** More values for the request's run (names of keys created on the same TaskLocalData), e.g. a tenant header. */
  readonly values?: (req: Req) => RunValues;
  /** The route until the framework matched one, and for requests that match none. Default ''. */
  readonly unmatched?: string;
}

/** The resolved options: keys made, defaults filled in. */
export interface RequestValues<Req> {
  readonly tld: TaskLocalData;
  readonly routeKey: StringKey;
  readonly reqIdKey: U64Key;
  readonly reqId: (req: Req) => bigint;
  readonly values: ((req: Req) => RunValues) | undefined;
  readonly unmatched: string;
}

const THREAD_BITS = BigInt(threadId & 0xffff) << 48n;
let counter = 0n;

/** The default request id: unique per process (threadId << 48 | this thread's count). */
export function nextRequestId(): bigint {
  counter += 1n;
  return THREAD_BITS | counter;
}

/** Checks the options and creates the keys (TypeError with a code for a bad option, before any key is made). */
export function resolveOptions<Req>(
  tld: TaskLocalData,
  options: RequestValuesOptions<Req> = {},
  who: string,
): RequestValues<Req> {
  if (tld === null || typeof tld !== 'object' || typeof (tld as Partial<TaskLocalData>).run !== 'function') {
    throw optionError(`${who}(tld, options): tld must be a TaskLocalData (TaskLocalData.open()), got ${describe(tld)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw optionError(`${who}(tld, options): options must be an object, got ${describe(options)}`);
  }
  for (const name of ['reqId', 'values'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw optionError(
        `${who}(tld, options): options.${name} must be a function of the request, got ${describe(options[name])}`,
      );
    }
  }
  if (options.unmatched !== undefined && typeof options.unmatched !== 'string') {
    throw optionError(`${who}(tld, options): options.unmatched must be a string, got ${describe(options.unmatched)}`);
  }
  return {
    tld,
    routeKey: options.routeKey ?? tld.string('route', 64, { truncate: true }),
    reqIdKey: options.reqIdKey ?? tld.u64('req_id'),
    reqId: options.reqId ?? nextRequestId,
    values: options.values,
    unmatched: options.unmatched ?? '',
  };
}

/** Sets the running request's route: a function bound to the request's run, callable from any context. */
export type SetRoute = (pattern: string) => void;

/**
 * Runs `start` inside a new run() for `req` that lasts until `res` closes. `start` gets the function that sets
 * the route later (when the framework has matched it); bound to the run, so it writes the request's value even
 * when the framework calls it from a callback that lost the context.
 */
export function runRequest<Req>(
  rv: RequestValues<Req>,
  req: Req,
  res: ServerResponse,
  route: string | undefined,
  start: (setRoute: SetRoute) => void,
): void {
  const values: Record<string, bigint | number | string | Uint8Array> = {
    ...rv.values?.(req),
    [rv.routeKey.name]: route ?? rv.unmatched,
    [rv.reqIdKey.name]: rv.reqId(req),
  };
  void rv.tld.run(values, () => {
    const done = new Promise<void>((resolve) => res.once('close', () => resolve()));
    // A throw here leaves the run (and reaches the framework); the run's promise is never observed by anyone.
    start(AsyncResource.bind((pattern: string) => rv.routeKey.set(pattern)));
    return done;
  });
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function optionError(message: string): TypeError & { code: string } {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}
