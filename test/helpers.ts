// Shared by the cross-package tests: paths of committed fixtures, a registry of test plugins and
// the error code a call rejects with.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Engine, PluginRegistry, loadPluginDirectory } from '@atelier/core';
import type { AtelierError, RawImage } from '@atelier/core';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const photo = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/images/${name}`, import.meta.url));
export const bad = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/bad/${name}`, import.meta.url));
export const testPluginDir = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));

export const read = (path: string): Promise<Buffer> => readFile(path);

/** A registry with only the test plugins (acme:invert and the misbehaving ones). */
export async function testRegistry(): Promise<PluginRegistry> {
  const registry = new PluginRegistry();
  await loadPluginDirectory(registry, testPluginDir);
  return registry;
}

/** Decodes an encoded image to raw pixels with sharp, for assertions. */
export async function pixels(data: Uint8Array): Promise<RawImage> {
  const { data: raw, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
  return {
    data: raw,
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage['channels'],
  };
}

/** What a promise settles with: `ok`, or the code of the AtelierError it rejects with. */
export const errorCodeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: AtelierError) => e.code,
  );

/**
 * For tests of one image on several threads: an engine on one thread without band helpers and
 * one on two threads with a helper, on the same registry, and a 1.6 megapixel photo (PNG) large
 * enough for every band kernel to split its work.
 */
export async function bandEngines(
  registry: PluginRegistry,
): Promise<{ one: Engine; two: Engine; input: Uint8Array }> {
  const limits = { stepTimeoutMs: 60_000 };
  const input = await sharp(await readFile(photo('colorful-cups-2560x1600.jpg')))
    .resize({ width: 1600 })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return {
    one: new Engine({ registry, threads: 1, bandThreads: 0, limits }),
    two: new Engine({ registry, threads: 2, bandThreads: 1, limits }),
    input,
  };
}
