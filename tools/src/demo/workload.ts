// The demo server's routes: what each request costs in CPU, and how a handler is split into synchronous steps
// around its awaits. Shared by the main thread, the worker threads and the load generator (which only needs the
// paths and weights).
import { pbkdf2Sync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** One route of the demo server. */
export interface RouteSpec {
  /** The route template: what handlers publish as `route` and BPF aggregates by. */
  readonly route: string;
  /** How often the load generator asks for it, relative to the others. */
  readonly weight: number;
  /** What it does, for --help and the README. */
  readonly what: string;
}

export const ROUTES: readonly RouteSpec[] = Object.freeze([
  { route: '/checkout', weight: 2, what: 'hashes a password (pbkdf2-sha256): the most CPU per request' },
  { route: '/search', weight: 3, what: 'ranks 4,000 generated items and serialises the top 50' },
  { route: '/users/:id', weight: 8, what: 'renders a small JSON document' },
  { route: '/export', weight: 4, what: 'waits 25 ms for a slow downstream service: mostly waiting' },
]);

/** Tenants the load generator spreads requests over (published as `tenant`). */
export const TENANTS: readonly string[] = Object.freeze(['acme', 'globex', 'initech', 'umbrella']);

/**
 * Runs one synchronous piece of a handler. The runner publishes the request's values (threads mode) and meters
 * the piece's CPU time around it; between pieces the handler awaits, and other requests run on the thread.
 */
export type Step = <T>(piece: () => T) => T;

/** The route template of a request path ('/users/42' → '/users/:id'), or undefined for an unknown path. */
export function routeOf(path: string): string | undefined {
  if (path === '/checkout' || path === '/search' || path === '/export') return path;
  if (/^\/users\/\d+$/.test(path)) return '/users/:id';
  return undefined;
}

/** A request path for `route` (the load generator's side of routeOf). */
export function pathFor(route: string, n: number): string {
  return route === '/users/:id' ? `/users/${n}` : route;
}

const SALT = Buffer.from('task-local-data-demo');

function rank(tenant: string, n: number): string {
  const items = Array.from({ length: n }, (_, i) => ({
    id: i,
    score: (Math.sin(i * 12.9898 + tenant.length) * 43758.5453) % 1,
  }));
  items.sort((a, b) => b.score - a.score);
  return JSON.stringify(items.slice(0, 50));
}

function user(id: number, tenant: string): string {
  const roles = ['reader', 'writer', 'admin'].filter((_, i) => (id >> i) & 1);
  const history = Array.from({ length: 40 }, (_, i) => ({
    at: 1_700_000_000 + i * 3600,
    action: `login-${(id + i) % 7}`,
  }));
  return JSON.stringify({ id, tenant, roles, history });
}

/**
 * Serves one request of `route` through `step`, which runs each synchronous piece. Returns the response body.
 * The awaits stand for I/O a real handler would wait on; other requests run on the thread meanwhile.
 */
export async function handle(route: string, tenant: string, n: number, step: Step): Promise<string> {
  switch (route) {
    case '/checkout': {
      const password = step(() => `${tenant}:${n}:correct horse battery staple`);
      await sleep(1); // the user store
      return step(() => pbkdf2Sync(password, SALT, 20_000, 32, 'sha256').toString('hex'));
    }
    case '/search': {
      await sleep(1); // the index
      return step(() => rank(tenant, 4000));
    }
    case '/users/:id':
      return step(() => user(n, tenant));
    case '/export': {
      const query = step(() => JSON.stringify({ tenant, since: n }));
      await sleep(25); // the slow downstream service
      return step(
        () => `${query}\n${Array.from({ length: 100 }, (_, i) => `${i},${tenant},${(i * n) % 97}`).join('\n')}`,
      );
    }
    default:
      throw new RangeError(`no route ${route}`);
  }
}
