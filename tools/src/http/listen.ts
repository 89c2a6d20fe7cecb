// The one HTTP server set-up of the demo and the benchmarks: node:http with keep-alive on a free loopback port,
// and a close() that stops listening and drops the connections the load generator keeps open. What a request
// does is the caller's handler (the demo's routes, the benchmark's per-request wrappers).
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  readonly server: Server;
  readonly port: number;
  /** Stops listening and drops open connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 at a port the kernel picks. Rejects when listening fails. */
export async function listenLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const server = createServer({ keepAlive: true }, handler);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
