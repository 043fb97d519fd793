import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { authPlugin, oncePerRequest } from './auth.plugin.ts';
import type { Caller } from './auth.plugin.ts';

/** Resolves `Bearer <id>` to a user with that id, and counts the lookups. */
function bearerUsers() {
  const lookups: string[] = [];
  const resolve = async (req: { headers: { authorization?: string | undefined } }): Promise<Caller> => {
    const id = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    lookups.push(id ?? '-');
    return { user: id ? { id, role: id === 'root' ? 'admin' : 'user' } : null };
  };
  return { lookups, resolve };
}

describe('authPlugin', () => {
  it('resolves the caller on first use only, once per request, for sibling plugins too', async () => {
    const { lookups, resolve } = bearerUsers();
    const app = Fastify();
    await app.register(authPlugin, { resolve });
    // An encapsulated sibling, as every other plugin is: it sees the decorator.
    await app.register(async (scope: FastifyInstance) => {
      scope.get('/me', async (req) => {
        const [a, b] = await Promise.all([req.caller(), req.caller()]);
        expect(a).toBe(b);
        return (await req.caller()).user;
      });
      scope.get('/public', async () => 'hello');
    });
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer u1' } })).json()).toEqual({
      id: 'u1',
      role: 'user',
    });
    expect(lookups).toEqual(['u1']);
    expect((await app.inject('/public')).body).toBe('hello');
    expect(lookups).toEqual(['u1']);
    await app.inject({ url: '/me', headers: { authorization: 'Bearer root' } });
    expect(lookups).toEqual(['u1', 'root']);
  });

  it('shares one lookup with other users of the same oncePerRequest resolver (tRPC context)', async () => {
    const { lookups, resolve } = bearerUsers();
    const contextOf = oncePerRequest((req) => resolve(req));
    const app = Fastify();
    await app.register(authPlugin, { resolve: contextOf });
    app.get('/both', async (req, reply) => {
      const context = await contextOf(req, reply);
      return context === (await req.caller());
    });
    expect((await app.inject({ url: '/both', headers: { authorization: 'Bearer u2' } })).json()).toBe(true);
    expect(lookups).toEqual(['u2']);
  });

  it('lets the resolver set headers on the reply (the renewed session cookie)', async () => {
    const app = Fastify();
    await app.register(authPlugin, {
      resolve: async (_req, reply) => {
        reply.header('set-cookie', 'atelier_session=renewed');
        return { user: null };
      },
    });
    app.get('/', async (req) => (await req.caller()).user);
    expect((await app.inject('/')).headers['set-cookie']).toBe('atelier_session=renewed');
  });

  it('fails loudly when a route asks for the caller and the plugin is not registered', async () => {
    const app = Fastify();
    app.get('/', async (req) => (await req.caller()).user);
    expect((await app.inject('/')).statusCode).toBe(500);
  });
});
