// Express middleware: every request runs in its own run() with `route` = the matched route's pattern
// ('/users/:id', with the mount path of the routers it went through), `req_id` and the values you add.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TaskLocalData } from '@tld/userspace';
import { type RequestValuesOptions, resolveOptions, runRequest } from './request-values.js';

export type { RequestValuesOptions } from './request-values.js';
export { nextRequestId } from './request-values.js';

/** The pattern of an express route: its path as declared (a string, an array of them, or a RegExp). */
function patternOf(baseUrl: string, path: unknown): string {
  const own = Array.isArray(path) ? path.map(String).join(',') : String(path);
  return baseUrl + own;
}

/**
 * Express middleware (express 5; `app.use()` it before your routes). Each request runs in
 * `tld.run({ route, req_id, ...values(req) }, ...)` until its response closes; `route` is `unmatched` ('') until the
 * router matches a route, then `req.baseUrl + route.path`. Throws TypeError (ERR_INVALID_ARG_TYPE) for bad
 * options and the TldErrors of key creation, when called, never per request.
 */
export function tldExpress(tld: TaskLocalData, options?: RequestValuesOptions<Request>): RequestHandler {
  const rv = resolveOptions(tld, options, 'tldExpress');
  return function tldRequestValues(req: Request, res: Response, next: NextFunction): void {
    runRequest(rv, req, res, undefined, (setRoute) => {
      // The router assigns req.route when a route matches (before its handlers run): catch the assignment.
      let route: unknown;
      Object.defineProperty(req, 'route', {
        configurable: true,
        enumerable: true,
        get: () => route,
        set(value: unknown) {
          route = value;
          const path = (value as { path?: unknown } | undefined)?.path;
          if (path !== undefined) setRoute(patternOf(req.baseUrl, path));
        },
      });
      next();
    });
  };
}
