// Fastify plugin: every request runs in its own run() with `route` = the route's URL pattern ('/users/:id', with
// the prefix), `req_id` and the values you add, from onRequest until its response closes.
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TaskLocalData } from '@tld/userspace';
import { type RequestValuesOptions, resolveOptions, runRequest } from './request-values.js';

export type { RequestValuesOptions } from './request-values.js';
export { nextRequestId } from './request-values.js';

/** Options of the plugin: the shared ones plus the TaskLocalData. */
export interface TldFastifyOptions extends RequestValuesOptions<FastifyRequest> {
  readonly tld: TaskLocalData;
}

const plugin: FastifyPluginCallback<TldFastifyOptions> = (fastify, options, done) => {
  const { tld, ...rest } = options;
  let rv: ReturnType<typeof resolveOptions<FastifyRequest>>;
  try {
    rv = resolveOptions(tld, rest, 'tldFastify');
  } catch (error) {
    done(error as Error); // register()/ready() rejects with it
    return;
  }
  fastify.addHook('onRequest', (request, reply, next) => {
    // Every later hook and the handler continue from next(): fastify carries the async context across reading
    // the body itself (its content-type parser runs in an AsyncResource of the request).
    runRequest(rv, request, reply.raw, request.routeOptions.url, () => next());
  });
  done();
};

/**
 * The fastify plugin (fastify 5): `app.register(tldFastify, { tld, values: (req) => ({ tenant: ... }) })`. Not
 * encapsulated (fastify-plugin), so it covers every route of the instance it is registered on. Registering throws
 * TypeError (ERR_INVALID_ARG_TYPE) for bad options and the TldErrors of key creation.
 */
export const tldFastify = fp(plugin, { fastify: '5.x', name: '@tld/http/fastify' });
export default tldFastify;
