// How the bench server runs a request's handler under each Wrapper (http-shared.ts): set up once per server
// process, then one call per request.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskLocalData } from '@tld/userspace';
import type { Wrapper } from './http-shared.js';

/** The values a request publishes. */
export type RequestValues = Readonly<{ req_id: bigint; route: string }>;
/** Runs `answer` (the request's handler) under a wrapper. */
export type Handle = (values: RequestValues, answer: () => Promise<void>) => void;

function needs(tld: TaskLocalData | undefined, wrapper: Wrapper): TaskLocalData {
  if (tld === undefined) throw new Error(`http server: wrapper ${wrapper} needs task local data (tld page or walk)`);
  return tld;
}

const SETUP: Record<Wrapper, (tld: TaskLocalData | undefined) => Handle> = {
  none: () => (_values, answer) => void answer(),
  set: (tld) => {
    const reqId = needs(tld, 'set').u64('req_id');
    const route = needs(tld, 'set').string('route', 32, { truncate: true });
    return (values, answer) => {
      reqId.set(values.req_id);
      route.set(values.route);
      void answer();
    };
  },
  run: (tld) => {
    const session = needs(tld, 'run');
    session.u64('req_id');
    session.string('route', 32, { truncate: true });
    return (values, answer) => void session.run(values, answer);
  },
  als: () => {
    const als = new AsyncLocalStorage<RequestValues>();
    return (values, answer) => void als.run(values, answer);
  },
  hooks: (tld) => {
    const session = needs(tld, 'hooks');
    if (session.asyncContext !== 'page') throw new Error('http server: wrapper hooks needs the page mechanism');
    session.u64('req_id');
    session.run({ req_id: 0n }, () => undefined); // installs run()'s hooks for good
    return (_values, answer) => void answer();
  },
};

/** The handle of each of `wrappers`, set up in this process. */
export function setUpWrappers(wrappers: readonly Wrapper[], tld: TaskLocalData | undefined): Map<Wrapper, Handle> {
  return new Map(wrappers.map((w) => [w, SETUP[w](tld)]));
}
