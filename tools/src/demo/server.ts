// The demo's HTTP server on loopback. The main thread accepts and parses every request, then serves it itself or
// hands it to one of its worker threads, round robin (threads mode); in single-thread mode the main thread serves
// them all, interleaved at their awaits. Each thread tallies the CPU time its handlers measured, per route.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Worker } from 'node:worker_threads';
import { type LoopbackServer, listenLoopback } from '../http/listen.js';
import type { RequestRunner } from './request-scope.js';
import { handle, routeOf } from './workload.js';

export interface ServerWorkerData {
  readonly mapFd: number;
}

export interface WorkerRequest {
  readonly id: number;
  readonly route: string;
  readonly tenant: string;
  readonly reqId: bigint;
  readonly n: number;
}

export type WorkerReply =
  | { readonly id: number; readonly body: string }
  | { readonly id: number; readonly error: string }
  | { readonly tally: Array<[string, number]> };

type Answer = Exclude<WorkerReply, { tally: unknown }>;

/** What the app measured for one route. */
export interface RouteCount {
  readonly requests: number;
  readonly cpuNs: number;
}

type Pending = (reply: Answer) => void;

/** A worker thread of the pool with its requests in flight. */
class PoolWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #tallyWaiter: ((tally: Array<[string, number]>) => void) | undefined;
  #nextId = 0;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: WorkerReply) => {
      if ('tally' in reply) {
        this.#tallyWaiter?.(reply.tally);
        return;
      }
      this.#pending.get(reply.id)?.(reply);
      this.#pending.delete(reply.id);
    });
  }

  static async start(mapFd: number): Promise<PoolWorker> {
    const worker = new Worker(new URL('./server-worker.js', import.meta.url), {
      workerData: { mapFd } satisfies ServerWorkerData,
    });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    return new PoolWorker(worker);
  }

  /** The CPU time the worker's handlers measured, per route. */
  tally(): Promise<Array<[string, number]>> {
    return new Promise((resolve) => {
      this.#tallyWaiter = resolve;
      this.#worker.postMessage('tally');
    });
  }

  serve(request: Omit<WorkerRequest, 'id'>): Promise<Answer> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ ...request, id } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    this.#worker.postMessage('close');
    await exited;
  }
}

export class DemoServer {
  readonly port: number;
  /** Requests answered, per route. */
  readonly requests = new Map<string, number>();
  /** Requests served by each thread: [main, worker 1, ...]. */
  readonly servedBy: number[];
  /** Requests that failed (500) or asked for an unknown path (404). */
  errors = 0;
  readonly #server: LoopbackServer;
  readonly #pool: readonly PoolWorker[];
  readonly #main: RequestRunner;
  #next = 0;
  #reqId = 0n;

  private constructor(server: LoopbackServer, pool: readonly PoolWorker[], main: RequestRunner) {
    this.#server = server;
    this.#pool = pool;
    this.#main = main;
    this.servedBy = new Array<number>(pool.length + 1).fill(0);
    this.port = server.port;
  }

  /** Starts `workers` worker threads (each registers in the map `mapFd`) and listens on 127.0.0.1. */
  static async start(options: { mapFd: number; workers: number; main: RequestRunner }): Promise<DemoServer> {
    const pool = await Promise.all(Array.from({ length: options.workers }, () => PoolWorker.start(options.mapFd)));
    // The server exists before the DemoServer that answers through it: a request this early gets a 503.
    const started: { demo?: DemoServer } = {};
    const server = await listenLoopback((req: IncomingMessage, res: ServerResponse) => {
      const demo = started.demo;
      if (!demo) return void res.writeHead(503).end();
      demo.#respond(req, res).catch((error: unknown) => {
        demo.errors++;
        res.writeHead(500).end(String(error));
      });
    });
    started.demo = new DemoServer(server, pool, options.main);
    return started.demo;
  }

  /** Per route: requests answered and the CPU time the handlers of every thread measured. */
  async counts(): Promise<Map<string, RouteCount>> {
    const cpu = new Map(this.#main.tally);
    for (const tally of await Promise.all(this.#pool.map((w) => w.tally()))) {
      for (const [route, ns] of tally) cpu.set(route, (cpu.get(route) ?? 0) + ns);
    }
    const routes = new Set([...this.requests.keys(), ...cpu.keys()]);
    return new Map([...routes].map((r) => [r, { requests: this.requests.get(r) ?? 0, cpuNs: cpu.get(r) ?? 0 }]));
  }

  async #respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = routeOf(url.pathname);
    if (route === undefined) {
      this.errors++;
      res.writeHead(404).end();
      return;
    }
    const reqId = ++this.#reqId;
    const request = {
      route,
      tenant: url.searchParams.get('tenant') ?? 'none',
      reqId,
      n: Number(/\d+$/.exec(url.pathname)?.[0] ?? reqId % 1000n),
    };
    const thread = this.#next++ % (this.#pool.length + 1);
    const send = (body: string): void => void res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    if (thread === 0) {
      await this.#main.run(request, (step) => handle(route, request.tenant, request.n, step), send);
    } else {
      const reply = await (this.#pool[thread - 1] as PoolWorker).serve(request);
      if ('error' in reply) throw new Error(reply.error);
      send(reply.body);
    }
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
    this.servedBy[thread] = (this.servedBy[thread] ?? 0) + 1;
  }

  /** Stops listening, drops open connections and lets every worker unregister and exit. */
  async close(): Promise<void> {
    await Promise.all([this.#server.close(), ...this.#pool.map((w) => w.close())]);
  }
}
