// Run under strace by no-syscall.test.ts: opens a private map, then sets values between two marker writes.
// Everything between the markers must be plain stores: strace must show no bpf() or pidfd_open() there.
import { writeSync } from 'node:fs';
import { TaskLocalData } from '@tld/userspace';
import { decodeString, decodeU64 } from '@tld/protocol';
import { loadReader } from '@tld/bpf-programs';

const ROUNDS = 1000;
const reader = loadReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd });
const reqId = tld.u64('req_id');
const route = tld.string('route', 32);
const weight = tld.f64('weight');

writeSync(2, 'TLD-MARK-BEGIN\n');
for (let i = 1; i <= ROUNDS; i++) {
  reqId.set(BigInt(i));
  route.set(`/items/${i}`);
  weight.set(i / 4);
}
writeSync(2, 'TLD-MARK-END\n');

const read = reader.read(['req_id', 'route']);
console.log(JSON.stringify({ reqId: String(decodeU64(read.values.req_id)), route: decodeString(read.values.route) }));
tld.close();
reader.close();
