// The AI-provider plugins (openai-image, openai-describe) on the real engine, over real HTTP to
// the loopback fake provider: success, retries, every error mapping, the grant that baseUrl
// cannot escape, cancellation, and that their source reaches the network only through ctx.fetch.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, isAtelierError, loadPluginModule, runCosts } from '@atelier/core';
import type { AtelierError, PluginGrants, RunResult } from '@atelier/core';
import { FAKE_USAGE, startFakeProvider } from './fakes/openai-provider.ts';
import type { FakeProvider } from './fakes/openai-provider.ts';
import { photo, root } from './helpers.ts';

// The fake listens on 127.0.0.1: the host fetch refuses loopback without this (test-only) switch.
// Set before the engine starts its threads, which copy the environment.
process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = '1';

const KEY = 'sk-test-ai-plugins-0123456789abcdef';
const WIDTH = 240;
const HEIGHT = 160;
let fake: FakeProvider;
let engine: Engine;
let input: Buffer;
let inputPixels: Buffer;

const grant = (key = KEY, host = '127.0.0.1'): PluginGrants => ({
  network: [host],
  secrets: { OPENAI_API_KEY: key },
});
const grants = (key?: string): Record<string, PluginGrants> => ({
  'test:openai-image': grant(key),
  'test:openai-describe': grant(key),
});

function run(
  plugin: string,
  params: Record<string, unknown> = {},
  options: { key?: string; signal?: AbortSignal; grants?: Record<string, PluginGrants> } = {},
): Promise<RunResult> {
  const plan = engine.plan({
    steps: [{ plugin, params: { baseUrl: fake.url, ...params } }],
    output: { format: 'png' },
  });
  return engine.run(input, plan, {
    grants: options.grants ?? grants(options.key),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

const failure = (p: Promise<unknown>): Promise<AtelierError> =>
  p.then(
    () => {
      throw new Error('expected the run to fail');
    },
    (e: unknown) => {
      if (!isAtelierError(e)) throw e;
      return e;
    },
  );

/** Mean absolute difference per sample of two same-sized RGB buffers. */
function meanDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

beforeAll(async () => {
  fake = await startFakeProvider(KEY);
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  await loadPluginModule(
    registry,
    new URL('./fixtures/ai-plugins/loopback.plugins.ts', import.meta.url).href,
    { builtin: true },
  );
  engine = new Engine({ registry, threads: 1 });
  input = await sharp(await readFile(photo('coffee.png')))
    .resize(WIDTH, HEIGHT, { fit: 'fill' })
    .removeAlpha()
    .png()
    .toBuffer();
  inputPixels = await sharp(input).raw().toBuffer();
});

afterAll(async () => {
  await engine?.close();
  await fake?.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.editSize = { width: 1024, height: 1024 };
});

describe('openai-image', () => {
  it('sends the image and prompt, and returns the provider image at the input size, with its cost', async () => {
    const result = await run('test:openai-image', { prompt: 'Invert it', quality: 'low' });
    expect([result.width, result.height]).toEqual([WIDTH, HEIGHT]);
    // The fake inverted the upload (at 1024x1024): the result is the negative of the input.
    const out = await sharp(result.data).removeAlpha().raw().toBuffer();
    const negative = inputPixels.map((v) => 255 - v);
    expect(meanDiff(out, negative)).toBeLessThan(6);
    expect(meanDiff(out, inputPixels)).toBeGreaterThan(40);

    expect(fake.requests).toHaveLength(1);
    const [seen] = fake.requests;
    expect(seen).toMatchObject({
      endpoint: 'edits',
      authorized: true,
      status: 200,
      image: { width: WIDTH, height: HEIGHT, format: 'png' },
      fields: { prompt: 'Invert it', model: 'gpt-image-1.5', size: 'auto', quality: 'low', n: '1' },
    });
    // gpt-image-1.5: $5 / M text tokens, $8 / M image tokens in, $32 / M out.
    const u = FAKE_USAGE.edits;
    const amount = (u.textTokens * 5 + u.imageTokens * 8 + u.outputTokens * 32) / 1e6;
    expect(result.costs).toEqual([
      {
        step: 0,
        plugin: 'test:openai-image',
        version: '1.0.0',
        amount,
        currency: 'USD',
        detail: `gpt-image-1.5: ${u.textTokens} text + ${u.imageTokens} image input tokens, ${u.outputTokens} output tokens (estimate)`,
      },
    ]);
    expect(result.annotations).toEqual([]);
  });

  it('keeps the input size when the provider returns another aspect ratio', async () => {
    fake.editSize = { width: 1536, height: 1024 };
    const result = await run('test:openai-image', { size: '1536x1024' });
    expect([result.width, result.height]).toEqual([WIDTH, HEIGHT]);
    expect(fake.requests[0]?.fields['size']).toBe('1536x1024');
  });

  it('takes the price from the parameters for a model it has no price for', async () => {
    const result = await run('test:openai-image', { model: 'acme-image-2', inputPrice: 1, outputPrice: 10 });
    const u = FAKE_USAGE.edits;
    expect(result.costs[0]?.amount).toBeCloseTo(
      ((u.textTokens + u.imageTokens) * 1 + u.outputTokens * 10) / 1e6,
      9,
    );
    const unpriced = await run('test:openai-image', { model: 'acme-image-2' });
    expect(unpriced.costs).toEqual([]);
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    fake.fail('edits', { status: 429, retryAfter: '1' }, { status: 429, retryAfter: '0' });
    const started = performance.now();
    const result = await run('test:openai-image');
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect([result.width, result.height]).toEqual([WIDTH, HEIGHT]);
    expect(result.costs).toHaveLength(1);
  });

  it('retries a 5xx with backoff and gives PROVIDER_UNAVAILABLE when every attempt fails', async () => {
    fake.fail('edits', { status: 500 }, { status: 503 }, { status: 502 });
    const error = await failure(run('test:openai-image', { attempts: 3 }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/\(502\) on every try/);
    expect(fake.requests.map((r) => r.status)).toEqual([500, 503, 502]);
    expect(runCosts(error)).toEqual([]);
  });

  it('gives PROVIDER_RATE_LIMITED when every attempt is a 429, and at once for an exhausted quota', async () => {
    fake.fail('edits', { status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' });
    expect((await failure(run('test:openai-image', { attempts: 2 }))).code).toBe('PROVIDER_RATE_LIMITED');
    expect(fake.requests).toHaveLength(2);
    fake.requests.length = 0;
    fake.fail('edits', {
      status: 429,
      body: {
        error: {
          message: 'You exceeded your current quota, please check your plan and billing details.',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        },
      },
    });
    const quota = await failure(run('test:openai-image', { attempts: 4 }));
    expect(quota.code).toBe('PROVIDER_RATE_LIMITED');
    expect(quota.message).toContain('exceeded your current quota');
    expect(fake.requests).toHaveLength(1);
  });

  it('gives PROVIDER_AUTH_FAILED for a refused key, without retrying and without the key anywhere', async () => {
    const wrong = 'sk-wrong-key-abcdefghijklmnop';
    const logs: string[] = [];
    const registry = engine.registry;
    const logged = new Engine({
      registry,
      threads: 1,
      logger: {
        debug: (m, f) => logs.push(m + JSON.stringify(f)),
        info: (m, f) => logs.push(m + JSON.stringify(f)),
        warn: (m, f) => logs.push(m + JSON.stringify(f)),
        error: (m, f) => logs.push(m + JSON.stringify(f)),
      },
    });
    try {
      const plan = logged.plan({ steps: [{ plugin: 'test:openai-image', params: { baseUrl: fake.url } }] });
      const error = await failure(logged.run(input, plan, { grants: grants(wrong) }));
      expect(error.code).toBe('PROVIDER_AUTH_FAILED');
      expect(error.message).toMatch(/refused the API key .*\(401\): Incorrect API key provided/);
      // The fake echoes the whole Authorization header; none of it comes back.
      const everything = JSON.stringify({ message: error.message, details: error.details, logs });
      expect(everything).not.toContain(wrong);
      expect(everything).not.toContain(KEY);
      expect(everything).not.toContain('sk-wrong');
      expect(fake.requests.map((r) => [r.authorized, r.status])).toEqual([[false, 401]]);
    } finally {
      await logged.close();
    }
  });

  it("gives PROVIDER_REJECTED with the provider's message for a content-policy refusal", async () => {
    fake.fail('edits', {
      status: 400,
      body: {
        error: {
          message: 'Your request was rejected as a result of our safety system.',
          type: 'image_generation_user_error',
          code: 'moderation_blocked',
        },
      },
    });
    const error = await failure(run('test:openai-image'));
    expect(error.code).toBe('PROVIDER_REJECTED');
    expect(error.message).toContain('rejected as a result of our safety system');
    expect(error.details).toMatchObject({ status: 400, providerCode: 'moderation_blocked' });
    expect(fake.requests).toHaveLength(1);
  });

  it('gives PROVIDER_BAD_RESPONSE for garbage, an answer without an image, and an image that is not one', async () => {
    fake.fail('edits', { garbage: true }, { empty: true }, { undecodable: true });
    const garbage = await failure(run('test:openai-image'));
    expect([garbage.code, garbage.message]).toEqual([
      'PROVIDER_BAD_RESPONSE',
      expect.stringMatching(/not JSON/),
    ]);
    const empty = await failure(run('test:openai-image'));
    expect([empty.code, empty.message]).toEqual([
      'PROVIDER_BAD_RESPONSE',
      expect.stringMatching(/without an image/),
    ]);
    const undecodable = await failure(run('test:openai-image'));
    expect([undecodable.code, undecodable.message]).toEqual([
      'PROVIDER_BAD_RESPONSE',
      expect.stringMatching(/image cannot be used/),
    ]);
  });

  it('gives PROVIDER_UNAVAILABLE when the provider cannot be reached at all', async () => {
    const closed = await startFakeProvider(KEY);
    const url = closed.url;
    await closed.close();
    const plan = engine.plan({
      steps: [{ plugin: 'test:openai-image', params: { baseUrl: url, attempts: 2 } }],
    });
    const error = await failure(engine.run(input, plan, { grants: grants() }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/could not be reached/);
  });

  it('cannot leave its grant through baseUrl: the built-in reaches only the hosts it declares', async () => {
    const plan = engine.plan({ steps: [{ plugin: 'openai-image', params: { baseUrl: fake.url } }] });
    const error = await failure(
      engine.run(input, plan, { grants: { 'openai-image': grant(KEY, 'api.openai.com') } }),
    );
    expect(error.code).toBe('CAPABILITY_DENIED');
    expect(fake.requests).toHaveLength(0);
    // And without the admin's grant it does not run at all.
    expect((await failure(engine.run(input, plan, { grants: {} }))).code).toBe('CAPABILITY_NOT_GRANTED');
  });

  it('stops waiting for a retry when the run is cancelled', async () => {
    fake.fail('edits', { status: 429, retryAfter: '20' });
    const controller = new AbortController();
    const started = performance.now();
    const running = failure(run('test:openai-image', {}, { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    controller.abort();
    expect((await running).code).toBe('ABORTED');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('openai-describe', () => {
  it('returns the image unchanged and reports a caption, tags and the cost', async () => {
    const result = await run('test:openai-describe', { maxSide: 200 });
    expect([result.width, result.height]).toEqual([WIDTH, HEIGHT]);
    expect(meanDiff(await sharp(result.data).removeAlpha().raw().toBuffer(), inputPixels)).toBe(0);
    // The fake describes what it received: a JPEG scaled to 200 px on its long side.
    const [seen] = fake.requests;
    expect(seen).toMatchObject({
      endpoint: 'chat',
      authorized: true,
      image: { width: 200, height: 133, format: 'jpeg' },
      fields: { model: 'gpt-5-mini' },
    });
    expect(result.annotations).toHaveLength(1);
    const [annotation] = result.annotations;
    expect(annotation).toMatchObject({ step: 0, plugin: 'test:openai-describe', version: '1.0.0' });
    expect(annotation?.caption).toMatch(
      /^A (bright|dark) photo, mostly (red|green|blue), 200x133 pixels as received\.$/,
    );
    // Lower case, duplicates dropped ('Photo' and 'photo').
    expect(annotation?.tags).toEqual([
      expect.stringMatching(/^(red|green|blue)$/),
      expect.stringMatching(/^(bright|dark)$/),
      'photo',
    ]);
    const u = FAKE_USAGE.chat;
    expect(result.costs).toEqual([
      expect.objectContaining({
        amount: (u.promptTokens * 0.25 + u.completionTokens * 2) / 1e6,
        currency: 'USD',
      }),
    ]);
  });

  it('maps failures as openai-image does, and refuses an answer that is not the JSON asked for', async () => {
    fake.fail('chat', { status: 503 }, { empty: true });
    const error = await failure(run('test:openai-describe', { attempts: 1 }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    const unusable = await failure(run('test:openai-describe'));
    expect([unusable.code, unusable.message]).toEqual([
      'PROVIDER_BAD_RESPONSE',
      expect.stringMatching(/JSON asked for/),
    ]);
    // The call was billed before its answer turned out unusable: the failed run still carries the cost.
    expect(runCosts(unusable)).toEqual([
      expect.objectContaining({ plugin: 'test:openai-describe', amount: (100 * 0.25 + 10 * 2) / 1e6 }),
    ]);
    expect((await failure(run('test:openai-describe', {}, { key: 'sk-nope-000000' }))).code).toBe(
      'PROVIDER_AUTH_FAILED',
    );
  });
});

describe('the AI plugins source', () => {
  it('reaches the network and secrets only through ctx.fetch and ctx.secret, and imports only @atelier/core', async () => {
    const dir = path.join(root, 'packages/plugins/src/ai');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const source = await readFile(path.join(dir, file), 'utf8');
      const code = source.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      expect([file, [...code.matchAll(/(?<![.\w])fetch\s*\(/g)].length]).toEqual([file, 0]);
      expect([file, /\bprocess\b|\bBuffer\b|globalThis\s*\.\s*fetch|\brequire\s*\(/.test(code)]).toEqual([
        file,
        false,
      ]);
      const imports = [...code.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'/g)].map(
        (m) => m[1] ?? m[2],
      );
      expect([file, imports.filter((i) => i !== '@atelier/core' && !i!.startsWith('./'))]).toEqual([
        file,
        [],
      ]);
    }
    // ... and fetch only through the context.
    const image = await readFile(path.join(dir, 'openai-provider.ts'), 'utf8');
    expect(image).toContain('ctx.fetch(');
  });
});
