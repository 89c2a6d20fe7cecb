// The fastify plugin against fastify 5 and the real kernel: 48 interleaved requests on one thread (POSTs whose
// body fastify reads in stream callbacks), and at three points of every handler the BPF program tld_read must read
// that request's route pattern, id and tenant; a hook before the body is read sees them too.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfSupport } from '@tld/testkit';
import { tldFastify } from '../src/fastify.js';
import { type Seen, type Serving, bpfSees, readAcrossAwaits, sendAll, serving } from './helpers.js';

const support = bpfSupport();

describe.skipIf(!support.supported)("tldFastify: BPF reads each request's route pattern", () => {
  let rig: Serving;
  let app: FastifyInstance;
  let base: string;
  const beforeBody = new Map<string, Seen>();
  beforeAll(async () => {
    rig = serving();
    const { reader, tld, tenant } = rig;
    app = Fastify();
    const header = (req: FastifyRequest, name: string): string => String(req.headers[name] ?? '');
    await app.register(tldFastify, {
      tld,
      reqId: (req) => BigInt(header(req, 'x-request-id') || '0'),
      values: (req) => ({ [tenant.name]: header(req, 'x-tenant') }),
    });
    app.addHook('preParsing', (req, _reply, _payload, done) => {
      beforeBody.set(header(req, 'x-request-id'), bpfSees(reader));
      done();
    });
    const delay = (req: FastifyRequest): number => Number(header(req, 'x-delay') || '0');
    await app.register(
      (api, _options, done) => {
        api.get('/users/:id', async (req) => readAcrossAwaits(reader, delay(req)));
        api.post('/orders/:id/items', async (req) => readAcrossAwaits(reader, delay(req)));
        done();
      },
      { prefix: '/api' },
    );
    app.get('/health', async (req) => readAcrossAwaits(reader, delay(req)));
    app.setNotFoundHandler((_req, reply) => {
      void reply.code(404).send([bpfSees(reader)]);
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    rig.idle();
  });
  afterAll(async () => {
    await app?.close();
    rig?.close();
  });

  it('48 interleaved requests (GET, POST with a JSON body, a prefixed plugin): every reading is its own request', async () => {
    const list = await rig.expectBurstReadsOwnValues(base);
    for (const p of list) expect(beforeBody.get(p.reqId)).toEqual({ route: p.route, reqId: p.reqId, tenant: p.tenant });
    rig.expectIdle();
  });

  it('a request no route matches shows the unmatched route', async () => {
    const [missing] = await sendAll(base, [{ method: 'GET', path: '/nowhere/1', route: '', tenant: 't', reqId: '8' }]);
    expect(missing).toEqual([{ route: '', reqId: '8', tenant: 't' }]);
  });

  it('a value its key refuses fails that request through the framework (500) and changes nothing', async () => {
    await rig.expectRefusedValueChangesNothing(base);
  });

  it('bad options throw a coded TypeError when the plugin is registered', async () => {
    const other = Fastify();
    void other.register(tldFastify, { tld: rig.tld, values: 'tenant' as never });
    await expect(other.ready()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});
