// Third-party plugin packages as an author ships them (plain JavaScript, `@atelier/core` as a peer),
// written into temp directories outside the workspace, and what the plugins-folder tests do with
// them: pack, run the atelier CLI, render through a served API.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createAtelierClient, uploadForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { photo, read, root } from './helpers.ts';

const exec = promisify(execFile);

/** The style `id`: every pixel becomes `value` (so a rendered image says which code ran). */
export function tintSource(id: string, value: number, engine = '^1', version = '1.0.0'): string {
  return `import { z } from '@atelier/core';

export const tint = {
  id: '${id}',
  name: 'Tint ${value}',
  description: 'Paints every pixel grey ${value}.',
  version: '${version}',
  engine: '${engine}',
  kind: 'style',
  params: z.object({}),
  apply: ({ image }) => ({ ...image, data: new Uint8Array(image.data.length).fill(${value}) }),
};
`;
}

/** Writes a plugin package (package.json and index.js) into `dir`. */
export async function writePluginPackage(
  dir: string,
  options: { name: string; id: string; value: number; engine?: string; version?: string },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: options.name,
        version: options.version ?? '1.0.0',
        type: 'module',
        exports: { '.': './index.js' },
        files: ['index.js'],
        peerDependencies: { '@atelier/core': '^1.0.0' },
        // Never installed in the plugins folder (pnpm installs no dependency's devDependencies).
        devDependencies: { vitest: '^5.1.1' },
      },
      null,
      2,
    )}\n`,
  );
  await writeFile(
    path.join(dir, 'index.js'),
    tintSource(options.id, options.value, options.engine, options.version),
  );
}

/** Runs the atelier CLI; never throws on a non-zero exit. */
export async function atelier(
  cwd: string,
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [path.join(root, 'packages/server/src/cli.ts'), ...args],
      { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 2 ** 20 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The style ids a served API lists now. */
export async function listedStyles(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/trpc/styles.list`)).json()) as {
    result: { data: { id: string }[] };
  };
  return body.result.data.map((s) => s.id);
}

/** Polls until `check` holds (or throws after `ms`). */
export async function eventually<T>(
  what: string,
  get: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 20_000,
) {
  const deadline = Date.now() + ms;
  let value = await get();
  while (!check(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    value = await get();
  }
  return value;
}

/** A new account on the served API, with an uploaded photo. */
export async function accountWithPhoto(
  url: string,
  email: string,
): Promise<{ client: AtelierClient; token: string; imageId: string }> {
  const { token } = await createAtelierClient({ url }).auth.register.mutate({
    email,
    password: 'correct horse battery',
    displayName: email.split('@')[0]!,
  });
  const client = createAtelierClient({ url, token });
  const image = await client.images.upload.mutate(
    uploadForm(new Blob([await read(photo('chelsea.png'))]), 'chelsea.png'),
  );
  return { client, token, imageId: image.id };
}

/** Renders `style` through the API as a job; the result's mean grey and whether it came from the cache. */
export async function render(
  url: string,
  account: { client: AtelierClient; token: string; imageId: string },
  /** A third-party style: scoped, as `jobs.create`'s input type takes any such id. */
  style: `${string}:${string}`,
): Promise<{ mean: number; fromCache: boolean }> {
  const created = await account.client.jobs.create.mutate({ imageId: account.imageId, style });
  const job = await eventually(
    `job ${created.id}`,
    () => account.client.jobs.get.query({ id: created.id }),
    (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
    45_000,
  );
  if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}: ${JSON.stringify(job)}`);
  const download = await fetch(`${url}/files/jobs/${job.id}`, {
    headers: { authorization: `Bearer ${account.token}` },
  });
  const { channels } = await sharp(Buffer.from(await download.arrayBuffer())).stats();
  return { mean: channels[0]!.mean, fromCache: job.fromCache === true };
}
