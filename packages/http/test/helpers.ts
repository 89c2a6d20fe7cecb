// What the framework tests share: a BPF reading of this thread's request values (tld_read through
// BPF_PROG_TEST_RUN, on the thread the server runs on) and a burst of interleaved requests.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reader } from '@tld/bpf-programs';

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
export function probes(
  routes: readonly { method: 'GET' | 'POST'; path: (i: number) => string; route: string }[],
): Probe[] {
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
