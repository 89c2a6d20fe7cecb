// What the framework tests share: a BPF reading of this thread's request values (tld_read through
// BPF_PROG_TEST_RUN, on the thread the server runs on) and a burst of interleaved requests.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { type StringKey, TaskLocalData } from '@tld/userspace';

/** What BPF read at one point of a handler. */
export interface Seen {
  route: string | undefined;
  reqId: string | undefined;
  tenant: string | undefined;
}

const utf8 = new TextDecoder();

function text(bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined) return undefined;
  const end = bytes.indexOf(0);
  return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Reads route, req_id and tenant as BPF sees them on the calling thread. */
export function bpfSees(reader: Reader): Seen {
  const { values } = reader.read(['route', 'req_id', 'tenant']);
  const reqId = values['req_id'];
  return {
    route: text(values['route']),
    reqId:
      reqId === undefined
        ? undefined
        : new DataView(reqId.buffer, reqId.byteOffset, 8).getBigUint64(0, true).toString(),
    tenant: text(values['tenant']),
  };
}

/** A handler's body: BPF reads at the start, after a timer (other requests run meanwhile) and after an immediate. */
export async function readAcrossAwaits(reader: Reader, delayMs: number): Promise<Seen[]> {
  const seen = [bpfSees(reader)];
  await sleep(delayMs);
  seen.push(bpfSees(reader));
  await new Promise((resolve) => setImmediate(resolve));
  seen.push(bpfSees(reader));
  return seen;
}

/** One request of a burst: what to send and what BPF must read inside its handler. */
export interface Probe {
  method: 'GET' | 'POST';
  path: string;
  route: string;
  tenant: string;
  reqId: string;
}

/** 48 requests over 4 routes and 3 tenants, each with its own id, sent at once so that their handlers interleave. */
function probes(routes: readonly { method: 'GET' | 'POST'; path: (i: number) => string; route: string }[]): Probe[] {
  return Array.from({ length: 48 }, (_, i) => {
    const r = routes[i % routes.length] as (typeof routes)[number];
    return { method: r.method, path: r.path(i), route: r.route, tenant: `tenant-${i % 3}`, reqId: String(1000 + i) };
  });
}

/** Sends every probe concurrently to `base`; resolves with each response's body (what its handler saw). */
export async function sendAll(base: string, list: readonly Probe[]): Promise<unknown[]> {
  return Promise.all(
    list.map(async (p, i) => {
      const res = await fetch(base + p.path, {
        method: p.method,
        headers: {
          'x-tenant': p.tenant,
          'x-request-id': p.reqId,
          'x-delay': String((i * 7) % 13),
          'content-type': 'application/json',
        },
        // 60 kB: the body arrives in several chunks, read after the handler chain started.
        ...(p.method === 'POST' ? { body: JSON.stringify({ n: i, pad: 'x'.repeat(60_000) }) } : {}),
      });
      return res.json();
    }),
  );
}

/** What BPF reads on the server's thread between requests: the thread's own values, set by serving(). */
const IDLE: Seen = { route: 'idle', reqId: '0', tenant: 'none' };

/** What a framework test serves with: a private map, its reader, a TaskLocalData on it and the tenant key. */
export interface Serving {
  readonly reader: Reader;
  readonly tld: TaskLocalData;
  readonly tenant: StringKey;
  /** Creates route and req_id (as the adapters do) and sets the IDLE values: once the app is set up. */
  idle(): void;
  /** Checks that BPF reads the IDLE values on this thread. */
  expectIdle(): void;
  /**
   * 48 interleaved requests to the routes every framework test declares (/api/users/:id, POST
   * /api/orders/:id/items, /health): checks that every reading of every handler is its own request's, and returns
   * the probes for the framework's own checks.
   */
  expectBurstReadsOwnValues(base: string): Promise<Probe[]>;
  /** A tenant longer than its key fails that request with 500; the next request and the idle values are intact. */
  expectRefusedValueChangesNothing(base: string): Promise<void>;
  close(): void;
}

export function serving(): Serving {
  const reader = loadReader({ map: 'private' });
  const tld = TaskLocalData.open({ mapFd: reader.mapFd });
  const tenant = tld.string('tenant', 16);
  const expectIdle = (): void => expect(bpfSees(reader)).toEqual(IDLE);
  return {
    reader,
    tld,
    tenant,
    idle() {
      tld.string('route', 64, { truncate: true }).set('idle');
      tld.u64('req_id').set(0n);
      tenant.set('none');
    },
    expectIdle,
    async expectBurstReadsOwnValues(base) {
      const list = probes([
        { method: 'GET', path: (i) => `/api/users/${i}`, route: '/api/users/:id' },
        { method: 'POST', path: (i) => `/api/orders/${i}/items`, route: '/api/orders/:id/items' },
        { method: 'GET', path: () => '/health', route: '/health' },
        { method: 'GET', path: (i) => `/api/users/${i}?q=${i}`, route: '/api/users/:id' },
      ]);
      const bodies = await sendAll(base, list);
      bodies.forEach((body, i) => {
        const p = list[i];
        const want: Seen = { route: p?.route, reqId: p?.reqId, tenant: p?.tenant };
        expect(body).toEqual([want, want, want]);
      });
      return list;
    },
    async expectRefusedValueChangesNothing(base) {
      const res = await fetch(`${base}/health`, {
        headers: { 'x-tenant': 'a tenant name longer than 15 bytes', 'x-request-id': '9' },
      });
      expect(res.status).toBe(500);
      const [ok] = await sendAll(base, [
        { method: 'GET', path: '/health', route: '/health', tenant: 't', reqId: '10' },
      ]);
      const want: Seen = { route: '/health', reqId: '10', tenant: 't' };
      expect(ok).toEqual([want, want, want]);
      expectIdle();
    },
    close() {
      tld.close();
      reader.close();
    },
  };
}
