// The application of the bpftool example: publishes req_id 42, prints its pid, then makes one socket for each line
// on stdin (answering "made") until stdin closes. Its pin comes from TLD_PIN, as a deployed app's would.
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { TaskLocalData } from '@tld/userspace';

const tld = TaskLocalData.open();
tld.u64('req_id').set(42n);
console.log(String(process.pid));
for await (const line of createInterface({ input: process.stdin })) {
  if (line === '') continue;
  // listen() makes the socket at once (a dgram socket would wait until its first bind or send).
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  server.close();
  console.log('made');
}
tld.close();
