import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Who is calling, as far as the routes outside tRPC care: the signed-in user, if any. */
export interface Caller {
  readonly user: { readonly id: string; readonly role: string } | null;
}

/** Resolves the caller of a request (the session from its Bearer token or cookie). */
export type ResolveCaller<C extends Caller> = (request: FastifyRequest, reply: FastifyReply) => Promise<C>;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller of this request, resolved on first use and then remembered (added by
     * {@link authPlugin}): routes that never ask (health, signed downloads) cost no session lookup.
     */
    caller(): Promise<Caller>;
  }
}

/** Options of {@link authPlugin}. */
export interface AuthPluginOptions {
  /**
   * Validates the request's session (Bearer token first, then the cookie) and, for a cookie whose
   * session was renewed, sets the new cookie on `reply` (sliding expiry). Wrap it in
   * {@link oncePerRequest} to share one resolution with tRPC's context.
   */
  readonly resolve: ResolveCaller<Caller>;
}

/**
 * `resolve`, called at most once per request: later calls for the same request get the same
 * promise. tRPC's context and `request.caller()` share one session lookup this way.
 *
 * @example
 * const contextOf = oncePerRequest((req, reply) => createContext(api, req, reply));
 */
export function oncePerRequest<C extends Caller>(resolve: ResolveCaller<C>): ResolveCaller<C> {
  const resolved = new WeakMap<FastifyRequest, Promise<C>>();
  return (request, reply) => {
    let caller = resolved.get(request);
    if (!caller) {
      caller = resolve(request, reply);
      resolved.set(request, caller);
    }
    return caller;
  };
}

const notRegistered = (): Promise<Caller> =>
  Promise.reject(new Error('request.caller() needs authPlugin registered in an enclosing scope'));

/**
 * Resolves the caller once per request for every other plugin: decorates requests with
 * `caller()`. Not encapsulated (Fastify's `skip-override`), so that sibling plugins see the
 * decorator.
 *
 * @example
 * await app.register(authPlugin, { resolve: oncePerRequest((req, reply) => createContext(api, req, reply)) });
 * app.get('/me', async (req) => (await req.caller()).user);
 */
export const authPlugin = Object.assign(
  async function authPlugin(app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
    const resolve = oncePerRequest(options.resolve);
    app.decorateRequest('caller', notRegistered);
    // Callback hook: it runs on every request and needs no promise.
    app.addHook('onRequest', (request, reply, done) => {
      request.caller = () => resolve(request, reply);
      done();
    });
  },
  { [Symbol.for('skip-override')]: true },
);
