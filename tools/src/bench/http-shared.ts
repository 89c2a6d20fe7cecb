// What the HTTP benchmark's orchestrator (cases-http.ts) and its server (http-server.ts) share.

/**
 * How a server runs each request's handler, the parameter of the HTTP case (each in server processes of its own):
 * `none` as is, in a process without task local data; `run` inside tld.run({ req_id, route }); `als` inside
 * AsyncLocalStorage.run() with the same values and no task local data (Node's own share of run()); `hooks` as is,
 * but run() was called once at start-up, so its hooks are installed. A new wrapper is one entry of WRAPPERS in
 * http-server.ts and one of WRAPPED in cases-http.ts.
 */
export type Wrapper = 'none' | 'run' | 'als' | 'hooks';
export const WRAPPERS: readonly Wrapper[] = Object.freeze(['none', 'run', 'als', 'hooks']);
/** tld: task local data open, phases none and set in one process; or a per-request Wrapper. */
export type ServerKind = 'tld' | Wrapper;
/** What a `tld` server's handler does with task local data during a measured load. */
export type Phase = 'none' | 'set';
/** The paths the load generator asks for, in turn. */
export const PATHS: readonly string[] = Object.freeze(['/users/17', '/orders/4711', '/carts/3/items', '/health']);
/** The routes those paths map to (first path segment). */
export const ROUTES: Readonly<Record<string, string>> = Object.freeze({
  users: '/users/:id',
  orders: '/orders/:id',
  carts: '/carts/:id/items',
  health: '/health',
});

/** What the server answers to a `check` message: what BPF reads on its main thread. */
export interface ServerCheck {
  readonly reqId: string | null;
  readonly route: string | null;
  readonly requests: number;
}
