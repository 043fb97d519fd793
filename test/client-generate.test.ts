// `atelier client generate` as a frontend developer meets it: a third-party plugin (`acme:mosaic`)
// in a plugin directory outside the repository, the real CLI writes the client package, a
// consumer project outside the repository installs it with pnpm and compiles against it with a
// plain tsconfig (the right call compiles; a wrong parameter type, an unknown parameter, a wrong
// enum value and an unknown style each fail tsc), and the same client runs a mosaic job on a real
// `atelier serve`, whose answer to an unknown parameter sent past the types is PARAMS_INVALID.
import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { photo, root } from './helpers.ts';
import { atelier } from './plugin-packages.ts';
import { serveEnv, spawnServe } from './serve-process.ts';
import type { ServeProcess } from './serve-process.ts';

const exec = promisify(execFile);
const defer = cleanupsAfterAll();
const CLIENT_NAME = '@acme/atelier-client';

/** A third-party style as a plugin author writes it: a real (if plain) mosaic, two typed params. */
const mosaicPlugin = `import { z } from 'zod';

export const mosaic = {
  id: 'acme:mosaic',
  name: 'Mosaic',
  description: 'Square tiles of flat colour.',
  version: '0.3.0',
  engine: '^1',
  kind: 'style',
  params: z.object({
    tiles: z.number().int().min(2).max(200).default(32).describe('Tiles across the image'),
    grout: z.enum(['none', 'white', 'black']).default('white').describe('The lines between tiles'),
  }),
  apply({ image, params, signal }) {
    const { width, height, channels, data } = image;
    const size = Math.ceil(width / params.tiles);
    const grout = { none: undefined, white: 255, black: 0 }[params.grout];
    const out = new Uint8Array(data.length);
    for (let ty = 0; ty < height; ty += size) {
      signal.throwIfAborted();
      for (let tx = 0; tx < width; tx += size) {
        const sums = new Array(channels).fill(0);
        let n = 0;
        for (let y = ty; y < Math.min(ty + size, height); y++)
          for (let x = tx; x < Math.min(tx + size, width); x++, n++)
            for (let c = 0; c < channels; c++) sums[c] += data[(y * width + x) * channels + c];
        for (let y = ty; y < Math.min(ty + size, height); y++)
          for (let x = tx; x < Math.min(tx + size, width); x++)
            for (let c = 0; c < channels; c++) {
              const edge = grout !== undefined && (x === tx || y === ty) && c < 3;
              out[(y * width + x) * channels + c] = edge ? grout : Math.round(sums[c] / n);
            }
      }
    }
    return { ...image, data: out };
  },
};
`;

/** A frontend's code against the generated package: it runs too (main.mjs calls it). */
const goodConsumer = `import { createAtelierClient, isApiError, uploadForm } from '${CLIENT_NAME}';
import type { AtelierInputs } from '${CLIENT_NAME}';

type MosaicJob = Extract<AtelierInputs['jobs']['create'], { style: 'acme:mosaic' }>;

export async function mosaic(url: string, photo: Blob) {
  const { token } = await createAtelierClient({ url }).auth.register.mutate({
    email: 'frontend@example.org',
    password: 'a good long password',
    displayName: 'Frontend',
  });
  const atelier = createAtelierClient({ url, token });
  const image = await atelier.images.upload.mutate(uploadForm(photo, 'chelsea.png'));
  const params: MosaicJob['params'] = { tiles: 8, grout: 'none' };
  const job = await atelier.jobs.create.mutate({
    imageId: image.id,
    style: 'acme:mosaic',
    params,
    output: { format: 'png' },
  });
  // A built-in is typed the same way, from the registry's schema.
  await atelier.jobs.create.mutate({ imageId: image.id, style: 'cartoon', params: { levels: 6 } });
  let done = await atelier.jobs.get.query({ id: job.id });
  for (let i = 0; i < 300 && (done.status === 'queued' || done.status === 'running'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    done = await atelier.jobs.get.query({ id: job.id });
  }
  // What plain JavaScript could still send: the server refuses it as the types do.
  const untyped: unknown = { imageId: image.id, style: 'acme:mosaic', params: { tiles: 8, colour: 'red' } };
  const refused = await atelier.jobs.create
    .mutate(untyped as MosaicJob)
    .then(() => 'accepted', (error: unknown) => (isApiError(error) ? error.data?.atelierCode : String(error)));
  return { token, jobId: job.id, status: done.status, refused };
}
`;

/** Calls that must not compile, each in its own file, with the error tsc must give. */
const badConsumers = {
  'wrong-type.ts': {
    call: `{ imageId, style: 'acme:mosaic', params: { tiles: 'many' } }`,
    error: "error TS2322: Type 'string' is not assignable to type 'number'.",
  },
  'unknown-key.ts': {
    call: `{ imageId, style: 'acme:mosaic', params: { tiles: 8, colour: 'red' } }`,
    error: "error TS2353: Object literal may only specify known properties, and 'colour' does not exist",
  },
  'wrong-enum.ts': {
    call: `{ imageId, style: 'acme:mosaic', params: { grout: 'gold' } }`,
    error: `error TS2322: Type '"gold"' is not assignable to type '"none" | "white" | "black" | undefined'.`,
  },
  'unknown-style.ts': {
    call: `{ imageId, style: 'acme:nope', params: { tiles: 8 } }`,
    error: `error TS2322: Type '"acme:nope"' is not assignable to type`,
  },
} as const;

const badConsumer = (call: string) => `import type { AtelierClient } from '${CLIENT_NAME}';

export function submit(atelier: AtelierClient, imageId: string) {
  return atelier.jobs.create.mutate(${call});
}
`;

let dir: string;
let pluginDir: string;
let database: TestDatabase;
let serve: ServeProcess;
type Run = Awaited<ReturnType<typeof atelier>>;
/** The two generations, from the configuration and from the server, run side by side. */
let fromConfig: Promise<Run>;
let fromServer: Promise<Run>;

/** This process's environment with the plugin directory, and no database: the environment only. */
function cliEnv(): NodeJS.ProcessEnv {
  // An undefined value removes the variable from the child's environment.
  return { DATABASE_URL: undefined, ATELIER_PLUGIN_DIR: pluginDir };
}

beforeAll(async () => {
  dir = await openTempDir('atelier-client-generate-', defer);
  pluginDir = path.join(dir, 'plugins');
  await mkdir(pluginDir);
  await writeFile(path.join(pluginDir, 'mosaic.js'), mosaicPlugin);
  // The plugin's own dependency, as its install would have put it beside it.
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(await realpath(path.join(root, 'node_modules/zod')), path.join(dir, 'node_modules/zod'));
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  serve = spawnServe({
    cwd: dir,
    env: serveEnv(database, dir, { ATELIER_PLUGIN_DIR: pluginDir, ATELIER_LOG_LEVEL: 'warn' }),
    defer,
  });
  const generate = (out: string, ...more: string[]) =>
    atelier(
      dir,
      cliEnv(),
      'client',
      'generate',
      '--out',
      path.join(dir, out),
      '--name',
      CLIENT_NAME,
      ...more,
    );
  fromConfig = generate('from-config');
  fromServer = serve.url.then((url) => generate('from-server', '--url', url));
  fromServer.catch(() => {});
});

describe('atelier client generate', () => {
  it('writes a package typed for the configured plugins, the third-party one included', async () => {
    const out = path.join(dir, 'from-config');
    const { code, stdout, stderr } = await fromConfig;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(
      new RegExp(`^${CLIENT_NAME}@\\S+ in ${out}: jobs.create takes \\d+ styles \\(.*acme:mosaic`),
    );
    const manifest = JSON.parse(await readFile(path.join(out, 'package.json'), 'utf8')) as {
      name: string;
      types: string;
      peerDependencies: Record<string, string>;
      atelier: { styles: Record<string, string> };
    };
    expect(manifest).toMatchObject({ name: CLIENT_NAME, types: './dist/index.d.ts' });
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['@trpc/client', '@trpc/server']);
    expect(manifest.atelier.styles).toMatchObject({ 'acme:mosaic': '0.3.0', cartoon: '1.0.0' });
    const dts = await readFile(path.join(out, 'dist/index.d.ts'), 'utf8');
    expect(dts).toContain('style: "acme:mosaic";');
    expect(dts).toContain('grout?: "none" | "white" | "black" | undefined;');
    // No open-ended member: an id that is not installed does not type-check.
    expect(dts).not.toContain('${string}:${string}');
    // Each generation is mostly the TypeScript checker reading the server's types: ~20 s alone,
    // more on a machine running other suites.
  }, 120_000);

  it('writes the same package from a running server (--url)', async () => {
    const url = await serve.url;
    const out = path.join(dir, 'from-server');
    const { code, stderr } = await fromServer;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const [served, configured] = await Promise.all(
      ['from-server', 'from-config'].map((d) => readFile(path.join(dir, d, 'dist/index.d.ts'), 'utf8')),
    );
    expect(served).toBe(configured);
    const manifest = JSON.parse(await readFile(path.join(out, 'package.json'), 'utf8')) as {
      atelier: { generatedFrom: string };
    };
    expect(manifest.atelier.generatedFrom).toBe(`${url}/api/styles`);
  }, 120_000);

  it('refuses a bad package name and an unreachable server with coded errors', async () => {
    const out = path.join(dir, 'never');
    const name = await atelier(dir, cliEnv(), 'client', 'generate', '--out', out, '--name', 'Not A Name');
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/^atelier: USAGE_INVALID: --name Not A Name is not a valid npm package name/);
    const away = await atelier(
      dir,
      cliEnv(),
      'client',
      'generate',
      '--out',
      out,
      '--url',
      'http://127.0.0.1:9',
    );
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(
      /^atelier: STYLES_UNAVAILABLE: Cannot reach http:\/\/127\.0\.0\.1:9\/api\/styles/,
    );
  });
});

describe('a frontend project using the generated package', () => {
  let consumer: string;

  beforeAll(async () => {
    consumer = path.join(dir, 'frontend');
    await mkdir(path.join(consumer, 'src'), { recursive: true });
    const workspace = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const manifest = {
      name: 'frontend',
      private: true,
      type: 'module',
      dependencies: {
        [CLIENT_NAME]: `file:${path.join(dir, 'from-config')}`,
        '@trpc/client': workspace.devDependencies['@trpc/client'],
        '@trpc/server': workspace.devDependencies['@trpc/server'],
        typescript: workspace.devDependencies['typescript'],
      },
    };
    await writeFile(path.join(consumer, 'package.json'), JSON.stringify(manifest, null, 2));
    // A frontend's plain tsconfig: strict, the DOM, no Node types.
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022', 'DOM'],
        strict: true,
        skipLibCheck: true,
        noEmit: true,
      },
      include: ['src'],
    };
    await writeFile(path.join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    await writeFile(path.join(consumer, 'src/good.ts'), goodConsumer);
    for (const [file, { call }] of Object.entries(badConsumers))
      await writeFile(path.join(consumer, 'src', file), badConsumer(call));
    await exec('npx', ['-y', 'pnpm@12', 'install', '--prefer-offline', '--no-frozen-lockfile'], {
      cwd: consumer,
      env: { ...process.env, CI: 'true' },
    });
  }, 60_000);

  it('compiles the right calls and fails each wrong one with its own error', async () => {
    const tsc = path.join(consumer, 'node_modules/typescript/bin/tsc');
    const result = await exec(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], {
      cwd: consumer,
    }).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(result.code).toBe(2);
    const errors = result.stdout.split('\n').filter((line) => /^src\//.test(line));
    const byFile = (file: string) => errors.filter((line) => line.startsWith(`src/${file}(`));
    expect(byFile('good.ts')).toEqual([]);
    for (const [file, { error }] of Object.entries(badConsumers)) {
      expect(byFile(file), file).toHaveLength(1);
      expect(byFile(file)[0], file).toContain(error);
    }
    expect(errors).toHaveLength(Object.keys(badConsumers).length);
  });

  it('runs a mosaic job on the running server, which refuses an unknown parameter', async () => {
    const url = await serve.url;
    const main = `import { readFile } from 'node:fs/promises';
import { mosaic } from './src/good.ts';
const photo = new Blob([await readFile(${JSON.stringify(photo('chelsea.png'))})]);
console.log(JSON.stringify(await mosaic(${JSON.stringify(url)}, photo)));
`;
    await writeFile(path.join(consumer, 'main.mjs'), main);
    const { stdout } = await exec(process.execPath, ['main.mjs'], { cwd: consumer });
    const run = JSON.parse(stdout) as { token: string; jobId: string; status: string; refused: string };
    expect(run).toMatchObject({ status: 'succeeded', refused: 'PARAMS_INVALID' });
    // tiles: 8 reached the plugin: 8 tiles across a 451 px wide photo, a few dozen colours at most
    // (the default, 32, gives hundreds).
    const download = await fetch(`${url}/files/jobs/${run.jobId}`, {
      headers: { authorization: `Bearer ${run.token}` },
    });
    expect(download.status).toBe(200);
    const { data, info } = await sharp(Buffer.from(await download.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const colours = new Set<string>();
    for (let i = 0; i < data.length; i += info.channels) colours.add(data.subarray(i, i + 3).join(','));
    const rows = Math.ceil(info.height / Math.ceil(info.width / 8));
    expect(colours.size).toBeLessThanOrEqual(8 * rows);
    expect(colours.size).toBeGreaterThan(8);
  });
});
