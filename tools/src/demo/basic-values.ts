// The first step's keys, shared by the main thread and its workers: how each thread publishes, and how BPF's
// reading is turned back into values.
import type { ReadResult } from '@tld/bpf-programs';
import { decodeF64, decodeString, decodeU64 } from '@tld/protocol';
import type { TaskLocalData } from '@tld/userspace';

/** Key names the BPF reader is asked for. */
export const KEYS = ['req_id', 'route', 'tenant', 'weight'];

export interface Published {
  readonly reqId: bigint;
  readonly route: string;
  readonly tenant: string;
  readonly weight: number;
}

/** What BPF saw on one thread. */
export type Seen = { registered: false; tid: number } | ({ registered: true; tid: number } & Published);

/** Publishes one thread's values: every set() is a store into this thread's page. */
export function publish(tld: TaskLocalData, values: Published): void {
  tld.u64('req_id').set(values.reqId);
  tld.string('route', 32).set(values.route);
  tld.string('tenant', 16).set(values.tenant);
  tld.f64('weight').set(values.weight);
}

function need(bytes: Uint8Array | undefined, name: string): Uint8Array {
  if (!bytes) throw new Error(`BPF did not find key ${name}`);
  return bytes;
}

/** What BPF saw on this thread, as plain values. */
export function readBack(result: ReadResult): Seen {
  const { registered, tid, values } = result;
  if (!registered) return { registered, tid };
  return {
    registered,
    tid,
    reqId: decodeU64(need(values['req_id'], 'req_id')),
    route: decodeString(need(values['route'], 'route')),
    tenant: decodeString(need(values['tenant'], 'tenant')),
    weight: decodeF64(need(values['weight'], 'weight')),
  };
}
