// Capabilities through the engine's worker threads: a run is refused until everything the plugin
// declares is granted; with grants, ctx.fetch reaches a loopback server with ctx.secret's value;
// the value never comes back out in a log line or an error.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine, PluginRegistry, loadPluginDirectory } from '@atelier/core';
import type { AtelierError, Logger, PluginGrants } from '@atelier/core';
import { photo, pixels, read } from './helpers.ts';

const SECRET = 'sk-test-0123456789abcdef';
const pluginDir = fileURLToPath(new URL('./fixtures/capability-plugins/', import.meta.url));
const logs: { message: string; fields: unknown }[] = [];
const logger: Logger = {
  debug: (message, fields) => void logs.push({ message, fields }),
  info: (message, fields) => void logs.push({ message, fields }),
  warn: (message, fields) => void logs.push({ message, fields }),
  error: (message, fields) => void logs.push({ message, fields }),
};
const requests: IncomingHttpHeaders[] = [];
let server: Server;
let port: number;
let engine: Engine;
let input: Buffer;
let envBefore: string | undefined;
let keyBefore: string | undefined;

beforeAll(async () => {
  // The worker threads copy the environment when the pool starts: set the test override first.
  envBefore = process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
  process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = '1';
  keyBefore = process.env['ATELIER_SECRETS_KEY'];
  process.env['ATELIER_SECRETS_KEY'] = 'a'.repeat(64);
  server = createServer((req, res) => {
    requests.push(req.headers);
    res.end('20');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const registry = new PluginRegistry();
  await loadPluginDirectory(registry, pluginDir);
  engine = new Engine({ registry, threads: 1, logger });
  input = await read(photo('chelsea.png'));
});
afterAll(async () => {
  await engine.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  if (envBefore === undefined) delete process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
  else process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = envBefore;
  if (keyBefore === undefined) delete process.env['ATELIER_SECRETS_KEY'];
  else process.env['ATELIER_SECRETS_KEY'] = keyBefore;
});

const full: PluginGrants = { network: ['127.0.0.1', 'localhost'], secrets: { TEST_KEY: SECRET } };
const plan = (params: Record<string, unknown>) =>
  engine.plan({ steps: [{ plugin: 'test:fetcher', params }], output: { format: 'png' } });
const rejection = (p: Promise<unknown>): Promise<AtelierError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: AtelierError) => e,
  );

describe('capabilities in the engine', () => {
  it('the registry shows what the plugin asks for', () => {
    expect(engine.registry.describe('test:fetcher').capabilities).toEqual({
      network: ['127.0.0.1', 'localhost'],
      secrets: ['TEST_KEY'],
    });
  });

  it('refuses a run with CAPABILITY_NOT_GRANTED, naming what is missing, before any request', async () => {
    const url = `http://127.0.0.1:${port}/`;
    const none = await rejection(engine.run(input, plan({ url })));
    expect(none).toMatchObject({
      code: 'CAPABILITY_NOT_GRANTED',
      details: {
        plugin: 'test:fetcher',
        missingNetwork: ['127.0.0.1', 'localhost'],
        missingSecrets: ['TEST_KEY'],
      },
    });
    const partial = await rejection(
      engine.run(input, plan({ url }), {
        grants: { 'test:fetcher': { network: ['127.0.0.1', 'localhost'], secrets: {} } },
      }),
    );
    expect(partial).toMatchObject({ details: { missingNetwork: [], missingSecrets: ['TEST_KEY'] } });
    expect(partial.message).toContain('TEST_KEY');
    expect(requests).toHaveLength(0);
  });

  it('with grants, the plugin fetches with its secret and uses the answer', async () => {
    const plain = await pixels(
      (await engine.run(input, plan({}), { grants: { 'test:fetcher': full } })).data,
    );
    const result = await engine.run(input, plan({ url: `http://localhost:${port}/brightness` }), {
      grants: { 'test:fetcher': full },
    });
    expect(requests.at(-1)?.['x-test-key']).toBe(SECRET);
    const bright = await pixels(result.data);
    // The server answered 20: every sample is 20 brighter (clipped at 255).
    const i = plain.data.findIndex((v) => v < 200);
    expect(bright.data[i]).toBe(plain.data[i]! + 20);
  });

  it('a host the plugin did not declare is CAPABILITY_DENIED, even with grants', async () => {
    const error = await rejection(
      engine.run(input, plan({ url: 'http://example.com/' }), { grants: { 'test:fetcher': full } }),
    );
    expect(error).toMatchObject({ code: 'CAPABILITY_DENIED', details: { reason: 'not-declared' } });
  });

  it('a secret the plugin did not declare is CAPABILITY_DENIED', async () => {
    const error = await rejection(
      engine.run(input, plan({ undeclared: true }), {
        grants: { 'test:fetcher': { ...full, secrets: { ...full.secrets, DATABASE_URL: 'postgres://x' } } },
      }),
    );
    expect(error).toMatchObject({ code: 'CAPABILITY_DENIED', details: { secret: 'DATABASE_URL' } });
  });

  it('a plugin that logs and throws its secret: both come out redacted', async () => {
    logs.length = 0;
    const error = await rejection(
      engine.run(input, plan({ leak: true }), { grants: { 'test:fetcher': full } }),
    );
    expect(error.code).toBe('PLUGIN_FAILED');
    expect(error.message).toContain('[redacted]');
    expect(JSON.stringify(error)).not.toContain(SECRET);
    expect(String(error.stack)).not.toContain(SECRET);
    // The plugin's log line comes from its thread by another channel than its error: it may land
    // just after the rejection.
    const line = await vi.waitFor(() => {
      const found = logs.find((l) => l.message.startsWith('my key is'));
      if (!found) throw new Error('no log line yet');
      return found;
    });
    expect(line.message).toBe('my key is [redacted]');
    expect(JSON.stringify(logs)).not.toContain(SECRET);
  });

  it("the engine's threads do not get ATELIER_SECRETS_KEY in their environment", async () => {
    const error = await rejection(
      engine.run(input, plan({ readEnv: 'ATELIER_SECRETS_KEY' }), { grants: { 'test:fetcher': full } }),
    );
    expect(error.message).toContain('env=unset');
    // The variable is there for the process itself, and others are passed on.
    expect(process.env['ATELIER_SECRETS_KEY']).toBe('a'.repeat(64));
    const other = await rejection(
      engine.run(input, plan({ readEnv: 'ATELIER_FETCH_ALLOW_LOOPBACK' }), {
        grants: { 'test:fetcher': full },
      }),
    );
    expect(other.message).toContain('env=1');
  });
});
