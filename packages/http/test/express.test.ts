// The express middleware against express 5 and the real kernel: 48 interleaved requests on one thread, and at
// three points of every handler (start, after a timer, after an immediate) the BPF program tld_read must read
// that request's route pattern, id and tenant.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfSupport } from '@tld/testkit';
import { nextRequestId, tldExpress } from '../src/express.js';
import { type Serving, bpfSees, readAcrossAwaits, sendAll, serving } from './helpers.js';

const support = bpfSupport();

describe.skipIf(!support.supported)("tldExpress: BPF reads each request's route pattern", () => {
  let rig: Serving;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    rig = serving();
    const { reader, tld, tenant } = rig;
    const app = express();
    app.use(
      tldExpress(tld, {
        reqId: (req: Request) => BigInt(req.get('x-request-id') ?? '0'),
        values: (req: Request) => ({ [tenant.name]: req.get('x-tenant') ?? '' }),
      }),
    );
    app.use(express.json());
    const delay = (req: Request): number => Number(req.get('x-delay') ?? '0');
    const api = express.Router();
    api.get('/users/:id', async (req, res) => {
      res.json(await readAcrossAwaits(reader, delay(req)));
    });
    api.post('/orders/:id/items', async (req, res) => {
      res.json(await readAcrossAwaits(reader, delay(req)));
    });
    app.use('/api', api);
    app.get('/health', async (req, res) => {
      res.json(await readAcrossAwaits(reader, delay(req)));
    });
    app.get(['/a/:x', '/b/:y'], (_req, res) => {
      res.json([bpfSees(reader)]);
    });
    app.use((_req, res) => {
      res.status(404).json([bpfSees(reader)]);
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    rig.idle();
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rig?.close();
  });

  it('48 interleaved requests (GET, POST with a JSON body, a nested router): every reading is its own request', async () => {
    await rig.expectBurstReadsOwnValues(base);
    // Between requests BPF reads the thread's own values.
    rig.expectIdle();
  });

  it('a route declared with several paths shows them all; a request no route matches shows the unmatched route', async () => {
    const [multi, missing] = await sendAll(base, [
      { method: 'GET', path: '/b/1', route: '', tenant: 't', reqId: '7' },
      { method: 'GET', path: '/nowhere/1', route: '', tenant: 't', reqId: '8' },
    ]);
    expect(multi).toEqual([{ route: '/a/:x,/b/:y', reqId: '7', tenant: 't' }]);
    expect(missing).toEqual([{ route: '', reqId: '8', tenant: 't' }]);
  });

  it('a value its key refuses fails that request through the framework (500) and changes nothing', async () => {
    await rig.expectRefusedValueChangesNothing(base);
  });

  it("default request ids: this thread's count, with the threadId in the top 16 bits", () => {
    const a = nextRequestId();
    const b = nextRequestId();
    expect(b).toBe(a + 1n);
    expect(a >> 48n).toBe(0n); // the main thread
  });

  it('bad options throw a coded TypeError when the middleware is made', () => {
    expect(() => tldExpress(rig.tld, { reqId: 42 as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => tldExpress({} as never)).toThrow(/tld must be a TaskLocalData/);
  });
});
