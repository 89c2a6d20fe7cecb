// The demo's keys, shared by the main thread and the workers: how each thread publishes, how BPF's reading is
// turned back into values.
import { decodeF64, decodeString, decodeU64 } from '@tld/protocol';

/** Key names the BPF reader is asked for. */
export const KEYS = ['req_id', 'route', 'tenant', 'weight'];

/** Publishes one thread's values: every set() is a store into this thread's page. */
export function publish(tld, { reqId, route, tenant, weight }) {
  tld.u64('req_id').set(reqId);
  tld.string('route', 32).set(route);
  tld.string('tenant', 16).set(tenant);
  tld.f64('weight').set(weight);
}

/** What BPF saw on this thread, as plain values. */
export function readBack(result) {
  const { registered, tid, values } = result;
  if (!registered) return { registered, tid };
  return {
    registered,
    tid,
    reqId: decodeU64(values.req_id),
    route: decodeString(values.route),
    tenant: decodeString(values.tenant),
    weight: decodeF64(values.weight),
  };
}
