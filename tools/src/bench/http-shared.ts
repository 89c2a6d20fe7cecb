// What the HTTP benchmark's orchestrator (http-phases.ts) and its one server (http-server.ts) share.

/**
 * How the server runs each request's handler, the parameter of every HTTP row: `none` as is; `set` after
 * req_id.set() and route.set(); `run` inside tld.run({ req_id, route }) by the server's mechanism (page or walk);
 * `als` inside AsyncLocalStorage.run() with the same values; `hooks` as is, but run() was called once at start-up
 * (page mechanism: its hooks stay installed). A new wrapper is one entry of WRAPPERS here and in http-wrappers.ts.
 */
export type Wrapper = 'none' | 'set' | 'run' | 'als' | 'hooks';
export const WRAPPERS: readonly Wrapper[] = Object.freeze(['none', 'set', 'run', 'als', 'hooks']);

/** Task local data in the server process: none at all, or open with run() by the page mechanism or the walk. */
export type TldMode = 'none' | 'page' | 'walk';

/** The server's command line (one JSON argument). */
export interface ServerConfig {
  readonly tld: TldMode;
  /** The wrappers its phases switch between; each is set up once, at start-up. */
  readonly wrappers: readonly Wrapper[];
  /** The pinned map to open (a profiler in another process reads it); default a private one. */
  readonly pin?: string;
}

/**
 * One phase of a schedule, counted in requests as they arrive: `warmup` requests under the phase's wrapper that
 * are not measured (the requests still in flight from the phase before finish among them), then `requests`
 * measured ones.
 */
export interface PhaseSpec {
  readonly wrapper: Wrapper;
  readonly warmup: number;
  readonly requests: number;
}

/** What the server measured over one phase's measured requests. */
export interface PhaseResult {
  readonly wrapper: Wrapper;
  readonly requests: number;
  /** Process CPU time (user + system, every thread). */
  readonly cpuUs: number;
  /** CPU time of the main thread alone (the one serving requests). */
  readonly threadCpuUs: number;
  /** Wall time: requests ÷ this is the server's throughput during the phase. */
  readonly wallUs: number;
}

/** What the server answers to a `check` message: what BPF read on its main thread inside one more request. */
export interface ServerCheck {
  readonly wrapper: Wrapper;
  /** The values that request had. */
  readonly sent: { readonly reqId: string; readonly route: string };
  /** What BPF read (null: no value). */
  readonly seen: { readonly reqId: string | null; readonly route: string | null };
}

/** The paths the load generator asks for, in turn. */
export const PATHS: readonly string[] = Object.freeze(['/users/17', '/orders/4711', '/carts/3/items', '/health']);
/** The routes those paths map to (first path segment). */
export const ROUTES: Readonly<Record<string, string>> = Object.freeze({
  users: '/users/:id',
  orders: '/orders/:id',
  carts: '/carts/:id/items',
  health: '/health',
});
