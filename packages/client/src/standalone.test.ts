// The published package on its own: built into a consumer's node_modules, with nothing else there
// but tRPC and zod (no @atelier/* package, no server source, no Node types), its declarations
// must compile a frontend's code with full types, and its JavaScript must load.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_DECLARATION_IMPORTS, buildClient, declarationImports } from '../scripts/build.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const workspaceDir = path.resolve(packageDir, '../..');

/** A frontend's code: typed calls that must compile, and one that must not. */
const consumer = `import { createAtelierClient, uploadForm } from '@atelier/client';
import type { AtelierOutputs } from '@atelier/client';
import { TRPCClientError } from '@trpc/client';

type Status = AtelierOutputs['jobs']['get']['status'];

export async function cartoon(photo: Blob): Promise<Status> {
  const atelier = createAtelierClient({ url: 'https://atelier.example.org', token: 'secret' });
  const image = await atelier.images.upload.mutate(uploadForm(photo, 'photo.jpg'));
  const job = await atelier.jobs.create.mutate({
    imageId: image.id,
    style: 'cartoon',
    params: { levels: 6, edgeThickness: 3 },
    output: { format: 'png' },
  });
  // @ts-expect-error cartoon's levels is a number
  await atelier.jobs.create.mutate({ imageId: image.id, style: 'cartoon', params: { levels: 'six' } });
  // Any other installed style: its params are checked by the server.
  await atelier.jobs.create.mutate({ imageId: image.id, style: 'acme:invert', params: { amount: 0.5 } });
  try {
    const done = await atelier.jobs.get.query({ id: job.id });
    const width: number | undefined = done.output?.width;
    return width === undefined ? 'queued' : done.status;
  } catch (error) {
    if (error instanceof TRPCClientError && error.data?.atelierCode === 'JOB_NOT_FOUND') return 'failed';
    throw error;
  }
}
`;

/** A frontend's compiler options: the DOM, no Node types, strict, and the libraries' declarations checked too. */
const frontend: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  // tRPC's own declarations name Disposable and AsyncDisposable.
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts', 'lib.esnext.disposable.d.ts'],
  types: [],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  noEmit: true,
};

const formatHost = (cwd: string): ts.FormatDiagnosticsHost => ({
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => cwd,
  getNewLine: () => '\n',
});

let dir: string;
let declarations: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-client-consumer-'));
  const modules = path.join(dir, 'node_modules');
  const installed = path.join(modules, '@atelier', 'client');
  await mkdir(path.join(modules, '@trpc'), { recursive: true });
  await mkdir(installed, { recursive: true });
  for (const [name, from] of [
    ['@trpc/client', packageDir],
    ['@trpc/server', packageDir],
    ['zod', workspaceDir],
  ] as const) {
    await symlink(await realpath(path.join(from, 'node_modules', name)), path.join(modules, name), 'dir');
  }
  const { dts } = await buildClient({ outDir: path.join(installed, 'dist') });
  declarations = await readFile(dts, 'utf8');
  await writeFile(path.join(installed, 'package.json'), JSON.stringify(await publishedManifest(), null, 2));
  await writeFile(path.join(dir, 'consumer.ts'), consumer);
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the built package', () => {
  it('declares everything itself: only tRPC (and zod) are imported', () => {
    const imported = declarationImports(declarations);
    expect(imported.every((m) => ALLOWED_DECLARATION_IMPORTS.includes(m))).toBe(true);
    expect(declarations).not.toMatch(/@atelier\/|packages\/|\.\.\//);
    expect(declarations).toContain('export type { AppRouter');
  });

  it("compiles a frontend's code against it, strictly, with the per-style parameters", () => {
    const program = ts.createProgram([path.join(dir, 'consumer.ts')], frontend);
    expect(ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), formatHost(dir))).toBe('');
    // The client's declarations were really read from the package's dist, not from anywhere else.
    const files = program.getSourceFiles().map((f) => f.fileName);
    expect(files).toContain(path.join(dir, 'node_modules/@atelier/client/dist/index.d.ts'));
    expect(files.some((f) => f.includes('/packages/'))).toBe(false);
  });

  it('refuses the wrong cartoon parameter for the right reason', () => {
    const file = path.join(dir, 'wrong.ts');
    const text = consumer.replace("// @ts-expect-error cartoon's levels is a number\n", '');
    const host = ts.createCompilerHost(frontend);
    const getSourceFile = host.getSourceFile;
    host.getSourceFile = (name, language, ...rest) =>
      name === file
        ? ts.createSourceFile(name, text, language)
        : getSourceFile.call(host, name, language, ...rest);
    const program = ts.createProgram({ rootNames: [file], options: frontend, host });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.file?.fileName).toBe(file);
    expect(ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, '\n')).toContain(
      "Type 'string' is not assignable to type 'number'",
    );
  });

  it('loads in Node with only @trpc/client beside it', async () => {
    const check = `import { createAtelierClient, uploadForm } from '@atelier/client';
const client = createAtelierClient({ url: 'http://127.0.0.1:9' });
console.log(typeof client.jobs.create.mutate, uploadForm(new Blob(['x']), 'a.png').get('name'));`;
    await writeFile(path.join(dir, 'check.mjs'), check);
    const { stdout } = await promisify(execFile)(process.execPath, ['check.mjs'], { cwd: dir });
    expect(stdout.trim()).toBe('function a.png');
  });

  it('runs on the oldest Node its manifest allows (engines), calls and errors included', async () => {
    const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const oldest = /^>=(\d+)$/.exec(manifest.engines.node)?.[1];
    expect(oldest).toBe('20');
    // The machine's own Node (Debian's) is that version; the suite itself runs on Node 24.
    const node = process.env['ATELIER_OLDEST_NODE'] ?? '/usr/bin/node';
    const version = await promisify(execFile)(node, ['-p', 'process.versions.node']);
    expect(version.stdout.trim().split('.')[0]).toBe(oldest);
    // A stand-in server answering tRPC's JSON: one query that works, one that fails with a code.
    const check = `import { createServer } from 'node:http';
import { createAtelierClient, isApiError } from '@atelier/client';
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url.startsWith('/trpc/styles.list')) return res.end(JSON.stringify({ result: { data: [{ id: 'cartoon' }] } }));
  res.statusCode = 404;
  res.end(JSON.stringify({ error: { message: 'No job has this id.', code: -32004, data: { code: 'NOT_FOUND', httpStatus: 404, atelierCode: 'JOB_NOT_FOUND' } } }));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const client = createAtelierClient({ url: 'http://127.0.0.1:' + server.address().port });
const styles = await client.styles.list.query();
const error = await client.jobs.get.query({ id: 'x' }).catch((e) => e);
console.log(process.versions.node.split('.')[0], styles[0].id, isApiError(error), error.data.atelierCode);
server.close();`;
    await writeFile(path.join(dir, 'check-oldest.mjs'), check);
    const { stdout } = await promisify(execFile)(node, ['check-oldest.mjs'], { cwd: dir });
    expect(stdout.trim()).toBe(`${oldest} cartoon true JOB_NOT_FOUND`);
  });
});

/** package.json as pnpm packs it: `publishConfig` fields replace the workspace's. */
async function publishedManifest(): Promise<Record<string, unknown>> {
  const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const { publishConfig, devDependencies: _dev, scripts: _scripts, ...rest } = manifest;
  return { ...rest, ...(publishConfig as Record<string, unknown>) };
}
