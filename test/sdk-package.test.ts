// The published SDK as a third party gets it: @atelier/core packed into a tarball with pnpm, installed
// into a plugin project in the system's temp directory (outside this workspace, so nothing resolves
// to our sources), type-checked there with a plain strict tsconfig (no allowImportingTsExtensions,
// no skipLibCheck, no @types/node of its own), compiled, and run through the Engine and runStep on
// every Node line the package's `engines` allows: 20 (the machine's), 22 and 24.
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_VERSION } from '@atelier/core';
import { photo, root } from './helpers.ts';
import { packPackage, pnpm, toolEnv as childEnv } from './pack-package.ts';

const run = promisify(execFile);

const PLUGIN = `import { definePlugin, hexColor, parseHexColor, runPipeline, z } from '@atelier/core';

/** Square tiles of the average colour, separated by grout lines. */
export const mosaic = definePlugin({
  id: 'acme:mosaic',
  name: 'Mosaic',
  description: 'Square tiles of the average colour, separated by grout lines.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  params: z.object({
    tile: z.number().int().min(4).max(64).default(16).describe('Tile size in pixels.'),
    grout: hexColor('Colour of the lines between tiles').default('#202020'),
  }),
  async apply({ image, params, sharp }) {
    const { width, height } = image;
    const cols = Math.ceil(width / params.tile);
    const rows = Math.ceil(height / params.tile);
    const means = await runPipeline(image, sharp().resize(cols, rows, { fit: 'fill' }));
    const grout = parseHexColor(params.grout);
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        if (x % params.tile === 0 || y % params.tile === 0) {
          data.set([grout.r, grout.g, grout.b], o);
        } else {
          const t = (Math.floor(y / params.tile) * cols + Math.floor(x / params.tile)) * means.channels;
          data.set(means.data.subarray(t, t + 3), o);
        }
      }
    }
    return { data, width, height, channels: 3 };
  },
});
`;

const RUN = `import { readFile } from 'node:fs/promises';
import {
  ENGINE_VERSION,
  Engine,
  PluginRegistry,
  definePlugin,
  isAtelierError,
  loadImage,
  loadPluginModule,
  runStep,
} from '@atelier/core';
import type { PluginParamsInput } from '@atelier/core';
import { mosaic } from './mosaic.plugin.js';

const codeOf = (error: unknown): string => (isAtelierError(error) ? error.code : String(error));
const input = process.argv[2]!;
const params: PluginParamsInput<typeof mosaic> = { tile: 12, grout: '#ff0000' };

const registry = new PluginRegistry();
const ids = await loadPluginModule(registry, new URL('./mosaic.plugin.js', import.meta.url).href);
const engine = new Engine({ registry, threads: 1 });
try {
  const plan = engine.plan({ steps: [{ plugin: 'acme:mosaic', params }], output: { format: 'png' } });
  const result = await engine.run(await readFile(input), plan);
  const viaEngine = await loadImage(result.data);
  const direct = await runStep(mosaic, await loadImage(input, { channels: 3 }), params);
  let badParams = '';
  try {
    engine.plan({ steps: [{ plugin: 'acme:mosaic', params: { tile: 'large' } }] });
  } catch (error) {
    badParams = codeOf(error);
  }
  let newerEngine = '';
  try {
    registry.register(definePlugin({ ...mosaic, id: 'acme:future', engine: '^2' }), { module: 'memory:' });
  } catch (error) {
    newerEngine = codeOf(error);
  }
  console.log(
    JSON.stringify({
      node: process.version,
      engine: ENGINE_VERSION,
      ids,
      format: result.format,
      width: result.width,
      height: result.height,
      steps: result.timings.steps.map((s) => s.plugin),
      firstPixel: [...viaEngine.data.subarray(0, 3)],
      sameAsRunStep: viaEngine.channels === 3 && Buffer.compare(viaEngine.data, direct.data) === 0,
      badParams,
      newerEngine,
    }),
  );
} finally {
  await engine.close();
}
`;

/** Wrong parameter types, each of which tsc must refuse (line numbers are checked). */
const BAD = `import { definePlugin, z } from '@atelier/core';
import type { PluginParamsInput } from '@atelier/core';
import { mosaic } from './mosaic.plugin.js';

export const wrong: PluginParamsInput<typeof mosaic> = { tile: 'large' };
export const grout: PluginParamsInput<typeof mosaic> = { grout: 0xff0000 };
export const misread = definePlugin({
  id: 'acme:misread',
  name: 'Misread',
  description: 'Reads a number parameter as a string.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  params: z.object({ size: z.number().default(3) }),
  apply({ image, params }) {
    const label: string = params.size;
    return label === '' ? image : image;
  },
});
`;

/** A plugin author's tsconfig: nothing but the defaults of a strict Node ESM project. */
const tsconfig = (include: string[]): string =>
  JSON.stringify({
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, outDir: 'dist', rootDir: 'src' },
    include,
  });

/** A Node binary of the given major line: the machine's /usr/bin/node when it is that line, else one from the registry (cached). */
async function nodeOfLine(major: number): Promise<string> {
  if (major === 20) {
    const v = await run('/usr/bin/node', ['-v']).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    if (v.startsWith('v20.')) return '/usr/bin/node';
  }
  const dir = path.join(tmpdir(), `atelier-node${major}`);
  const bin = path.join(dir, 'node_modules/.bin/node');
  const ok = await run(bin, ['-v']).then(
    (r) => r.stdout.startsWith(`v${major}.`),
    () => false,
  );
  if (!ok) {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'package.json'), '{ "private": true }\n');
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `node@${major}`], {
      cwd: dir,
      env: childEnv,
    });
  }
  return bin;
}

let work: string;
let project: string;
let tarball: string;
const nodes = { 20: '', 22: '', 24: process.execPath };
let compiled: { code: number; stdout: string };

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'atelier-sdk-'));
  project = path.join(work, 'acme-mosaic');
  await mkdir(path.join(project, 'src'), { recursive: true });
  const packDir = path.join(work, 'packages');
  // Packing runs core's prepack (the tsc build); Node 20 and 22 install meanwhile.
  [tarball, nodes[20], nodes[22]] = await Promise.all([
    packPackage('core', packDir),
    nodeOfLine(20),
    nodeOfLine(22),
  ]);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({
      name: 'acme-mosaic',
      private: true,
      type: 'module',
      dependencies: { '@atelier/core': `file:${tarball}` },
      devDependencies: { typescript: '~5.9.3' },
    }),
  );
  await writeFile(path.join(project, 'tsconfig.json'), tsconfig(['src']));
  await writeFile(path.join(project, 'src/mosaic.plugin.ts'), PLUGIN);
  await writeFile(path.join(project, 'src/run.ts'), RUN);
  await writeFile(path.join(project, 'src/bad.ts'), BAD);
  // A CI environment makes pnpm default to --frozen-lockfile; this project has no lockfile yet.
  await pnpm(['install', '--prefer-offline', '--no-frozen-lockfile'], project);
  // One tsc run (type-checking the libraries' declarations takes most of it): every error must be
  // in bad.ts, and tsc still writes the JavaScript of the good files.
  compiled = await run(
    process.execPath,
    [
      path.join(project, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.json',
      '--listFiles',
      '--pretty',
      'false',
    ],
    { cwd: project, maxBuffer: 16 * 1024 * 1024 },
  ).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed @atelier/core', () => {
  it('ships built JavaScript and declarations, versioned as the engine, for Node >= 20', async () => {
    const installed = path.join(project, 'node_modules/@atelier/core');
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({
      version: ENGINE_VERSION,
      engines: { node: '>=20' },
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    });
    expect(manifest['private']).toBeUndefined();
    const { stdout } = await run('tar', ['tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('package/dist/engine-worker.js');
    expect(files).toContain('package/dist/index.d.ts');
    // Only build output: no TypeScript source (which Node 20 cannot run) and no tests.
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /test/.test(f))).toEqual([]);
    // The plugin project has no @types/node of its own: the SDK brings what its declarations need.
    await expect(access(path.join(project, 'node_modules/@types/node'))).rejects.toThrow();
  });

  it("type-checks and compiles a third-party plugin with a plain strict tsconfig, against the package's declarations", async () => {
    const lines = compiled.stdout.trim().split('\n');
    const errors = lines.filter((l) => /error TS\d+/.test(l));
    // Only the deliberately wrong file fails (below): the plugin and its runner compile cleanly.
    expect(errors.filter((l) => !l.startsWith('src/bad.ts('))).toEqual([]);
    expect(lines.some((f) => /node_modules\/@atelier\/core\/dist\/index\.d\.ts$/.test(f))).toBe(true);
    expect(lines.some((f) => f.startsWith(root))).toBe(false);
    await access(path.join(project, 'dist/run.js'));
    await access(path.join(project, 'dist/mosaic.plugin.js'));
  });

  it('refuses wrong parameter types at compile time', () => {
    expect(compiled.code).toBe(2);
    const errors = compiled.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.map((l) => l.replace(/: error (TS\d+).*/, ' $1'))).toEqual([
      'src/bad.ts(5,58) TS2322',
      'src/bad.ts(6,58) TS2322',
      'src/bad.ts(16,11) TS2322',
    ]);
    expect(errors[0]).toContain("Type 'string' is not assignable to type 'number'");
    expect(errors[1]).toContain("Type 'number' is not assignable to type 'string'");
    expect(errors[2]).toContain("Type 'number' is not assignable to type 'string'");
  });

  describe.each([20, 22, 24] as const)('on Node %i', (major) => {
    it('runs the compiled plugin through the Engine (worker threads) and runStep', async () => {
      const { stdout } = await run(nodes[major], ['dist/run.js', photo('chelsea.png')], {
        cwd: project,
        env: childEnv,
      });
      const out = JSON.parse(stdout) as Record<string, unknown>;
      expect(out).toEqual({
        node: expect.stringMatching(new RegExp(`^v${major}\\.`)),
        engine: ENGINE_VERSION,
        ids: ['acme:mosaic'],
        format: 'png',
        width: 451,
        height: 300,
        steps: ['acme:mosaic'],
        // The top-left pixel is grout, in the colour the parameters asked for.
        firstPixel: [255, 0, 0],
        sameAsRunStep: true,
        badParams: 'PARAMS_INVALID',
        newerEngine: 'PLUGIN_ENGINE_MISMATCH',
      });
    });
  });
});
