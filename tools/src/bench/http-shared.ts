// What the HTTP benchmark's orchestrator (cases-http.ts) and its server (http-server.ts) share.

/** tld: task local data open, phases none and set; none: no task local data; run: tld.run() per request. */
export type ServerKind = 'tld' | 'none' | 'run';
/** What a `tld` server's handler does with task local data during a measured load. */
export type Phase = 'none' | 'set';
/** The routes the load generator's paths map to (first path segment). */
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
