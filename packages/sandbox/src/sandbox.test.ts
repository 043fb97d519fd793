// The sandbox's mechanism: loading (TypeScript, relative imports, a dependency's ESM, refusals),
// the proxy schema, the sharp recording, limits (timeout, cancel, memory) and the empty process.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, isAtelierError, loadPluginModule, z } from '@atelier/core';
import type { AtelierError, RawImage } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from './load.ts';
import { SandboxProcess } from './sandbox-process.ts';

let dir: string;
const url = (name: string): string => pathToFileURL(path.join(dir, name)).href;
const write = async (name: string, text: string): Promise<string> => {
  await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
  await writeFile(path.join(dir, name), text);
  return url(name);
};
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (isAtelierError(e) ? e.code : `not coded: ${String(e)}`),
  );

/** A plugin module whose apply body is `body` (a function of ctx). */
const plugin = (id: string, body: string, extra = ''): string => `
import { definePlugin, z } from '@atelier/core';
${extra}
export default definePlugin({
  id: '${id}', name: '${id}', description: 'test', version: '1.0.0', engine: '^1', kind: 'style',
  params: z.object({ n: z.number().int().min(0).max(10).default(1) }),
  async apply(ctx) { ${body} },
});
`;

const image = (width: number, height: number, channels: 3 | 4 = 3): RawImage => {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 7)) & 255;
  return { data, width, height, channels };
};

let sandbox: SandboxProcess;
beforeAll(async () => {
  // Inside the workspace, so that the in-process comparison can import '@atelier/core' too.
  const base = fileURLToPath(new URL('../../../test/.tmp/', import.meta.url));
  await mkdir(base, { recursive: true });
  dir = await mkdtemp(path.join(base, 'sandbox-'));
  sandbox = new SandboxProcess();
});
afterAll(async () => {
  await sandbox.close();
  await closeHostSandbox();
  await rm(dir, { recursive: true, force: true });
});

describe('loading', () => {
  it('describes plugins and rebuilds their schema with the same defaults, bounds, enums and strictness', async () => {
    const source = await write(
      'schema.ts',
      `import { definePlugin, hexColor, z } from '@atelier/core';
const params = z.object({
  ink: hexColor('The ink').default('#e4572e'),
  levels: z.number().int().min(2).max(8).default(4).describe('How many bands'),
  mode: z.enum(['soft', 'hard']).default('soft'),
  amount: z.number().min(0).max(1).default(0.5),
  flag: z.boolean().default(false),
  list: z.array(z.number()).max(3).default([]),
}).refine((p) => !(p.mode === 'hard' && p.amount > 0.9), { message: 'hard needs amount <= 0.9' });
export const plugin = definePlugin({
  id: 'test:schema', name: 'Schema', description: 'd', version: '2.0.0', engine: '^1', kind: 'style',
  tags: ['a'], alpha: 'process', params: params as unknown as z.ZodObject,
  outputSize: ({ width, height, params }) => ({ width: width + (params as { levels: number }).levels, height }),
  apply: ({ image }) => image,
});
`,
    );
    const registry = new PluginRegistry();
    expect(await loadSandboxedModule(registry, source)).toEqual(['test:schema']);
    expect(registry.source('test:schema')).toMatchObject({ module: source, sandboxed: true, builtin: false });
    const proxy = registry.get('test:schema');
    expect(proxy).toMatchObject({ version: '2.0.0', alpha: 'process', tags: ['a'], kind: 'style' });
    // The schema seen by forms and OpenAPI is the plugin's own.
    const original = z.toJSONSchema(
      z.object({
        ink: z
          .string()
          .regex(/^#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/)
          .describe('The ink (#rgb, #rgba, #rrggbb or #rrggbbaa).')
          .default('#e4572e'),
        levels: z.number().int().min(2).max(8).default(4).describe('How many bands'),
        mode: z.enum(['soft', 'hard']).default('soft'),
        amount: z.number().min(0).max(1).default(0.5),
        flag: z.boolean().default(false),
        list: z.array(z.number()).max(3).default([]),
      }),
      { io: 'input' },
    );
    expect(z.toJSONSchema(proxy.params, { io: 'input' })).toEqual(original);
    // Defaults, bounds, enums and strictness hold on the host...
    expect(proxy.params.parse({})).toEqual({
      ink: '#e4572e',
      levels: 4,
      mode: 'soft',
      amount: 0.5,
      flag: false,
      list: [],
    });
    expect(proxy.params.safeParse({ levels: 9 }).success).toBe(false);
    expect(proxy.params.safeParse({ levels: 2.5 }).success).toBe(false);
    expect(proxy.params.safeParse({ mode: 'other' }).success).toBe(false);
    expect(proxy.params.safeParse({ ink: 'red' }).success).toBe(false);
    expect(proxy.params.safeParse({ list: [1, 2, 3, 4] }).success).toBe(false);
    expect(proxy.params.strict().safeParse({ extra: 1 }).success).toBe(false);
    // ...and outputSize is asked of the sandbox.
    expect(await proxy.outputSize!({ width: 10, height: 20, params: { levels: 3 } })).toEqual({
      width: 13,
      height: 20,
    });
    // apply is never run in the host.
    expect(() => proxy.apply({} as never)).toThrow(/runs in the sandbox/);
    // A refinement JSON Schema cannot say still holds: the real schema parses again in the isolate.
    const step = await codeOf(
      sandbox.run({
        moduleUrl: source,
        plugin: 'test:schema',
        image: image(4, 4),
        params: { mode: 'hard', amount: 1 },
        seed: 0,
        memoryMb: 128,
        maxPixels: 1e6,
      }),
    );
    expect(step).toBe('PARAMS_INVALID');
  });

  it('runs a TypeScript plugin with a relative import and an ES module dependency from its own node_modules', async () => {
    await write(
      'ts-plugin/node_modules/esm-dep/package.json',
      JSON.stringify({
        name: 'esm-dep',
        type: 'module',
        exports: { '.': { import: './lib/index.js', require: './cjs.cjs' } },
      }),
    );
    await write(
      'ts-plugin/node_modules/esm-dep/lib/index.js',
      'export const offset = (v) => (v + 100) & 255;\n',
    );
    await write(
      'ts-plugin/src/helper.ts',
      'export function invert(v: number): number {\n  return 255 - v;\n}\nexport interface Unused { readonly x: number }\n',
    );
    const entry = await write(
      'ts-plugin/src/index.ts',
      plugin(
        'test:ts',
        `const src: Uint8Array = ctx.image.data;
        const out = new Uint8Array(src.length);
        for (let i = 0; i < src.length; i++) out[i] = offset(invert(src[i]!));
        return { ...ctx.image, data: out };`,
        `import { invert } from './helper.ts';\nimport { offset } from 'esm-dep';\ntype Px = number;\nconst _unused: Px = 0;`,
      ),
    );
    const input = image(16, 8);
    const out = (await sandbox.run({
      moduleUrl: entry,
      plugin: 'test:ts',
      image: input,
      params: {},
      seed: 0,
      memoryMb: 128,
      maxPixels: 1e6,
    })) as RawImage;
    expect(out.width).toBe(16);
    expect([...out.data.subarray(0, 4)]).toEqual(
      [...input.data.subarray(0, 4)].map((v) => (255 - v + 100) & 255),
    );
  });

  it('gives the plugin ctx.seed and ctx.previewScale as the host sent them (1 when not sent)', async () => {
    const entry = await write(
      'preview-scale.js',
      plugin(
        'test:preview-scale',
        `const out = new Uint8Array(ctx.image.data.length);
        out.fill(Math.round(ctx.previewScale * 200) + (ctx.seed & 7));
        return { ...ctx.image, data: out };`,
      ),
    );
    const run = async (extra: { previewScale?: number }) =>
      (
        (await sandbox.run({
          moduleUrl: entry,
          plugin: 'test:preview-scale',
          image: image(4, 4),
          params: {},
          seed: 3,
          memoryMb: 128,
          maxPixels: 1e6,
          ...extra,
        })) as RawImage
      ).data[0];
    expect(await run({ previewScale: 0.25 })).toBe(50 + 3);
    expect(await run({})).toBe(200 + 3);
  });

  it("gives '@atelier/core' and 'zod' from the host's SDK bundle: one zod, every export, the default too", async () => {
    const entry = await write(
      'sdk-imports.js',
      plugin(
        'test:sdk-imports',
        `const checks = [
          zodNs.z === core.z,
          zodDefault === core.z,
          typeof zodNs.function === 'function',
          typeof zodNs.ZodType === 'function',
          core.z.string().safeParse(1).success === false,
          typeof core.gaussianBlur === 'function',
          Object.keys(core).length > 40,
        ];
        const out = new Uint8Array(ctx.image.data.length);
        checks.forEach((ok, i) => { out[i] = ok ? 1 : 0; });
        return { ...ctx.image, data: out };`,
        `import * as core from '@atelier/core';\nimport * as zodNs from 'zod';\nimport zodDefault from 'zod';`,
      ),
    );
    const out = (await sandbox.run({
      moduleUrl: entry,
      plugin: 'test:sdk-imports',
      image: image(4, 4),
      params: {},
      seed: 0,
      memoryMb: 128,
      maxPixels: 1e6,
    })) as RawImage;
    expect([...out.data.subarray(0, 7)]).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it('reads each output whole, whether it has the announced size, is larger, or follows a run of another size', async () => {
    const entry = await write(
      'sizes.js',
      plugin(
        'test:sizes',
        `const { width, height, data } = ctx.image;
        if (ctx.params.n === 0) {
          const out = new Uint8Array(data.length);
          for (let i = 0; i < out.length; i++) out[i] = 255 - data[i];
          return { ...ctx.image, data: out };
        }
        // RGBA from RGB: a third more bytes than the buffer made ready for it.
        const out = new Uint8Array(width * height * 4);
        for (let p = 0; p < width * height; p++) {
          out[p * 4] = data[p * 3]; out[p * 4 + 1] = data[p * 3 + 1]; out[p * 4 + 2] = data[p * 3 + 2]; out[p * 4 + 3] = 200;
        }
        return { data: out, width, height, channels: 4 };`,
      ),
    );
    const run = (input: RawImage, n: number): Promise<RawImage> =>
      sandbox.run({
        moduleUrl: entry,
        plugin: 'test:sizes',
        image: input,
        params: { n },
        seed: 0,
        memoryMb: 128,
        maxPixels: 1e6,
        outputBytes: input.data.length,
      }) as Promise<RawImage>;
    const a = image(64, 48);
    const b = image(40, 30);
    for (const [input, n] of [
      [a, 0],
      [a, 0],
      [b, 0],
      [a, 1],
      [a, 0],
    ] as const) {
      const out = await run(input, n);
      if (n === 0) {
        expect(out.channels).toBe(3);
        expect(Buffer.from(out.data).equals(Buffer.from(input.data.map((v) => 255 - v)))).toBe(true);
      } else {
        expect(out.channels).toBe(4);
        expect(out.data.length).toBe(input.width * input.height * 4);
        expect([...out.data.subarray(0, 8)]).toEqual([
          ...input.data.subarray(0, 3),
          200,
          ...input.data.subarray(3, 6),
          200,
        ]);
      }
    }
  });

  it('refuses a CommonJS dependency, a Node built-in and a native addon with their codes, at load', async () => {
    await write(
      'cjs/node_modules/cjs-dep/package.json',
      JSON.stringify({ name: 'cjs-dep', main: 'index.js' }),
    );
    await write('cjs/node_modules/cjs-dep/index.js', 'module.exports = { x: 1 };\n');
    const cjs = await write(
      'cjs/index.js',
      plugin('test:cjs', 'return ctx.image;', "import dep from 'cjs-dep';"),
    );
    const registry = new PluginRegistry();
    const error = await loadSandboxedModule(registry, cjs).catch((e: AtelierError) => e);
    expect(isAtelierError(error) && error.code).toBe('PLUGIN_LOAD_FAILED');
    expect((error as AtelierError).message).toMatch(/CommonJS/);

    const fs = await write(
      'fs.js',
      plugin('test:fs', 'return ctx.image;', "import { readFileSync } from 'node:fs';"),
    );
    const bare = await write(
      'fs2.js',
      plugin('test:fs2', 'return ctx.image;', "import { readFileSync } from 'fs';"),
    );
    const addon = await write(
      'addon.js',
      plugin('test:addon', 'return ctx.image;', "import x from './thing.node';"),
    );
    await write('thing.node', 'not really an addon');
    for (const module of [fs, bare, addon]) {
      expect(await codeOf(loadSandboxedModule(new PluginRegistry(), module))).toBe('SANDBOX_VIOLATION');
    }
    // With onFailure: 'skip' the failure is recorded, as core's loader does.
    const skipping = new PluginRegistry();
    expect(await loadSandboxedModule(skipping, fs, { onFailure: 'skip' })).toEqual([]);
    expect(skipping.failures()).toMatchObject([{ source: fs, code: 'SANDBOX_VIOLATION' }]);
  });

  it('refuses a dynamic import() when it runs', async () => {
    const source = await write(
      'dynamic.js',
      plugin('test:dynamic', "await import('node:fs'); return ctx.image;"),
    );
    expect(
      await codeOf(
        sandbox.run({
          moduleUrl: source,
          plugin: 'test:dynamic',
          image: image(4, 4),
          params: {},
          seed: 0,
          memoryMb: 128,
          maxPixels: 1e6,
        }),
      ),
    ).toBe('SANDBOX_VIOLATION');
  });
});

describe('the isolate', () => {
  it('has no process, require or host handle, and the sandbox process has an empty environment', async () => {
    const source = await write(
      'probe.js',
      plugin(
        'test:probe',
        `ctx.logger.info(JSON.stringify({ process: typeof process, require: typeof require, host: typeof globalThis.__atelierHost, fetch: typeof globalThis.fetch, timers: typeof setTimeout, interval: typeof globalThis.setInterval }));
        return ctx.image;`,
      ),
    );
    const logs: string[] = [];
    await sandbox.run(
      {
        moduleUrl: source,
        plugin: 'test:probe',
        image: image(4, 4),
        params: {},
        seed: 0,
        memoryMb: 128,
        maxPixels: 1e6,
      },
      { log: (_level, message) => logs.push(message) },
    );
    expect(JSON.parse(logs[0]!)).toEqual({
      process: 'undefined',
      require: 'undefined',
      host: 'undefined',
      fetch: 'undefined',
      // setTimeout is the sandbox's own (a wait on the sandbox process's clock); no setInterval.
      timers: 'function',
      interval: 'undefined',
    });
    const environ = (await readFile(`/proc/${sandbox.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
    // Only malloc's two settings and Node's own IPC plumbing (which fork adds).
    expect(environ.map((e) => e.split('=')[0]).sort()).toEqual([
      'MALLOC_MMAP_THRESHOLD_',
      'MALLOC_TRIM_THRESHOLD_',
      'NODE_CHANNEL_FD',
      'NODE_CHANNEL_SERIALIZATION_MODE',
    ]);
    expect(process.env['PATH'] && environ.some((e) => e.includes(process.env['PATH']!))).toBe(false);
  });

  it('runs recorded sharp operations with the pixels real sharp gives, and refuses paths as inputs', async () => {
    const overlay = image(8, 6);
    const ops = `.resize(40, 30, { fit: 'fill' }).blur(1.5).modulate({ brightness: 1.2, saturation: 0.8 }).composite([{ input: ctx.params.n === 1 ? OVERLAY : null, left: 3, top: 4 }]).extend({ top: 2, bottom: 2, left: 1, right: 1, background: '#336699' }).flop()`;
    const source = await write(
      'sharp.js',
      plugin(
        'test:sharp',
        `const OVERLAY = { data: new Uint8Array(${JSON.stringify([...overlay.data])}), width: 8, height: 6, channels: 3 };
        const { data, info } = await ctx.sharp()${ops}.raw().toBuffer({ resolveWithObject: true });
        return { data, width: info.width, height: info.height, channels: info.channels };`,
      ),
    );
    const input = image(64, 48);
    const out = (await sandbox.run({
      moduleUrl: source,
      plugin: 'test:sharp',
      image: input,
      params: {},
      seed: 0,
      memoryMb: 128,
      maxPixels: 1e6,
    })) as RawImage;
    const expected = await sharp(input.data, { raw: { width: 64, height: 48, channels: 3 } })
      .resize(40, 30, { fit: 'fill' })
      .blur(1.5)
      .modulate({ brightness: 1.2, saturation: 0.8 })
      .composite([
        { input: Buffer.from(overlay.data), raw: { width: 8, height: 6, channels: 3 }, left: 3, top: 4 },
      ])
      .extend({ top: 2, bottom: 2, left: 1, right: 1, background: '#336699' })
      .flop()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([out.width, out.height, out.channels]).toEqual([
      expected.info.width,
      expected.info.height,
      expected.info.channels,
    ]);
    expect(Buffer.from(out.data).equals(expected.data)).toBe(true);

    // A pipeline returned from apply is rendered too.
    const returned = await write('returned.js', plugin('test:returned', 'return ctx.sharp().negate();'));
    const negated = (await sandbox.run({
      moduleUrl: returned,
      plugin: 'test:returned',
      image: input,
      params: {},
      seed: 0,
      memoryMb: 128,
      maxPixels: 1e6,
    })) as RawImage;
    expect(negated.data[0]).toBe(255 - input.data[0]!);

    // Strings where sharp would read a file: refused.
    const paths = await write(
      'paths.js',
      plugin(
        'test:paths',
        `if (ctx.params.n === 1) return ctx.sharp('/etc/passwd');
         if (ctx.params.n === 2) await ctx.sharp().composite([{ input: '/etc/passwd' }]).toBuffer();
         if (ctx.params.n === 3) await ctx.sharp().composite([{ input: { text: { text: 'hi', fontfile: '/etc/passwd' } } }]).toBuffer();
         if (ctx.params.n === 4) await ctx.sharp().toFile('/tmp/x.png');
         return ctx.image;`,
      ),
    );
    for (const n of [1, 2, 3, 4]) {
      expect(
        await codeOf(
          sandbox.run({
            moduleUrl: paths,
            plugin: 'test:paths',
            image: input,
            params: { n },
            seed: 0,
            memoryMb: 128,
            maxPixels: 1e6,
          }),
        ),
      ).toBe('SANDBOX_VIOLATION');
    }
  });
});

describe('a crash', () => {
  it('fails the run in progress with SANDBOX_CRASHED, and the next run gets a fresh sandbox process', async () => {
    const loop = await write('crash-loop.js', plugin('test:crash-loop', 'for (;;) {}'));
    const fine = await write('crash-fine.js', plugin('test:crash-fine', 'return ctx.image;'));
    const own = new SandboxProcess();
    try {
      const step = { image: image(4, 4), params: {}, seed: 0, memoryMb: 128, maxPixels: 1e6 };
      const running = own.run({ moduleUrl: loop, plugin: 'test:crash-loop', ...step });
      while (own.pid === undefined) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 300));
      const first = own.pid;
      process.kill(first, 'SIGKILL');
      expect(await codeOf(running)).toBe('SANDBOX_CRASHED');
      const out = (await own.run({ moduleUrl: fine, plugin: 'test:crash-fine', ...step })) as RawImage;
      expect(out.width).toBe(4);
      expect(own.pid).not.toBe(first);
    } finally {
      await own.close();
    }
  });
});

describe('limits through the engine', () => {
  let registry: PluginRegistry;
  let engine: Engine;
  let png: Buffer;
  beforeAll(async () => {
    registry = new PluginRegistry();
    await loadSandboxedModule(registry, await write('loop.js', plugin('test:loop', 'for (;;) {}')));
    await loadSandboxedModule(
      registry,
      await write(
        'hog.js',
        plugin('test:hog', 'const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random()));'),
      ),
    );
    await loadSandboxedModule(
      registry,
      await write('fine.js', plugin('test:fine', 'return ctx.sharp().negate();')),
    );
    engine = new Engine({ registry, threads: 1, limits: { maxMemoryMb: 128 } });
    png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
  });
  afterAll(() => engine.close());

  // A short step timeout for the runs that test it; the others keep the default, since a step's
  // clock also covers starting the thread's sandbox process, slow on a loaded machine.
  const plan = (id: string) =>
    engine.plan({
      steps: [{ plugin: id }],
      output: { format: 'png' },
      ...(id === 'test:loop' ? { limits: { stepTimeoutMs: 1500 } } : {}),
    });

  it('stops a synchronous infinite loop at the step timeout, and runs the next step normally', async () => {
    // The thread's sandbox process and the loop's isolate start before the clock does.
    expect((await engine.run(png, plan('test:fine'))).width).toBe(32);
    let stepStarted = 0;
    const running = engine.run(png, plan('test:loop'), {
      onProgress: (p) => {
        if (p.stage === 'step' && stepStarted === 0) stepStarted = performance.now();
      },
    });
    expect(
      await running.then(
        () => 'ok',
        (e: AtelierError) => `${e.code}: ${e.message}`,
      ),
    ).toMatch(/^PLUGIN_TIMEOUT: /);
    // 1500 ms of timeout, then the isolate is disposed at once: no waiting for the loop.
    expect(performance.now() - stepStarted).toBeLessThan(1500 + 500);
    expect((await engine.run(png, plan('test:fine'))).width).toBe(32);
  });

  it('stops a synchronous infinite loop on cancel within about 100 ms', async () => {
    const controller = new AbortController();
    const progress: string[] = [];
    const running = engine.run(png, plan('test:loop'), {
      signal: controller.signal,
      onProgress: (p) => progress.push(p.stage),
    });
    // Wait until the step has started in the sandbox (or the run ended: then its error shows).
    let settled = false;
    void running.catch(() => {}).finally(() => (settled = true));
    while (!progress.includes('step') && !settled) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    const cancelled = performance.now();
    controller.abort();
    expect(
      await running.then(
        () => 'ok',
        (e: AtelierError) => `${e.code}: ${e.message}`,
      ),
    ).toMatch(/^ABORTED: /);
    expect(performance.now() - cancelled).toBeLessThan(400);
    expect((await engine.run(png, plan('test:fine'))).width).toBe(32);
  });

  it('contains a plugin that allocates without bound with PLUGIN_OUT_OF_MEMORY', async () => {
    expect(await codeOf(engine.run(png, plan('test:hog')))).toBe('PLUGIN_OUT_OF_MEMORY');
    expect((await engine.run(png, plan('test:fine'))).width).toBe(32);
  });

  it('hands a granted secret to ctx.secret and keeps its value out of logs and errors', async () => {
    const source = await write(
      'secret.js',
      `import { definePlugin, z } from '@atelier/core';
export default definePlugin({
  id: 'test:secret', name: 'Secret', description: 'd', version: '1.0.0', engine: '^1', kind: 'style',
  capabilities: { secrets: ['API_KEY'] },
  params: z.object({}),
  apply(ctx) {
    const key = ctx.secret('API_KEY');
    ctx.logger.warn('using key ' + key);
    let other = 'none';
    try { ctx.secret('OTHER'); } catch (error) { other = error.code ?? error.message; }
    throw new Error('failed with ' + key + ' / ' + other);
  },
});
`,
    );
    const secretRegistry = new PluginRegistry();
    await loadSandboxedModule(secretRegistry, source);
    const logs: string[] = [];
    const record = (message: string, fields?: Record<string, unknown>): void => {
      logs.push(`${message} ${JSON.stringify(fields ?? {})}`);
    };
    const secretEngine = new Engine({
      registry: secretRegistry,
      threads: 1,
      logger: { debug: record, info: record, warn: record, error: record },
    });
    try {
      const value = 'sk-test-0123456789abcdef';
      const error = await secretEngine
        .run(png, secretEngine.plan({ steps: [{ plugin: 'test:secret' }], output: { format: 'png' } }), {
          grants: { 'test:secret': { network: [], secrets: { API_KEY: value } } },
        })
        .catch((e: AtelierError) => e);
      expect(isAtelierError(error) && error.code).toBe('PLUGIN_FAILED');
      // The plugin got the value (it echoed it), and the undeclared secret was refused.
      expect((error as AtelierError).message).toContain('failed with [redacted] / CAPABILITY_DENIED');
      expect(logs.join('\n')).toContain('using key [redacted]');
      expect(`${(error as AtelierError).message}\n${logs.join('\n')}`).not.toContain(value);
    } finally {
      await secretEngine.close();
    }
  });

  it('gives the same pixels in the sandbox as in the worker thread', async () => {
    const source = await write(
      'same.js',
      plugin(
        'test:same',
        `const grey = await ctx.sharp().greyscale().blur(1).raw().toBuffer();
        const out = new Uint8Array(ctx.image.data.length);
        for (let i = 0; i < grey.length; i++) { const n = Math.floor(ctx.random() * 16); out[i * 3] = grey[i]; out[i * 3 + 1] = (grey[i] + n) & 255; out[i * 3 + 2] = 255 - grey[i]; }
        return { ...ctx.image, data: out };`,
      ),
    );
    const inThread = new PluginRegistry();
    await loadPluginModule(inThread, source);
    const sandboxed = new PluginRegistry();
    await loadSandboxedModule(sandboxed, source);
    const threadEngine = new Engine({ registry: inThread, threads: 1 });
    const sandboxEngine = new Engine({ registry: sandboxed, threads: 1 });
    try {
      const photo = await sharp(image(48, 32).data, { raw: { width: 48, height: 32, channels: 3 } })
        .png()
        .toBuffer();
      const request = { steps: [{ plugin: 'test:same' }], output: { format: 'png' as const } };
      const a = await threadEngine.run(photo, threadEngine.plan(request));
      const b = await sandboxEngine.run(photo, sandboxEngine.plan(request));
      const [ra, rb] = await Promise.all([sharp(a.data).raw().toBuffer(), sharp(b.data).raw().toBuffer()]);
      expect(ra.equals(rb)).toBe(true);
    } finally {
      await Promise.all([threadEngine.close(), sandboxEngine.close()]);
    }
  });
});
