// Reference-image tests: every built-in plugin, on a small real photo, compared with a committed
// reference by SSIM, so a refactor cannot change a style's look silently. After a deliberate
// change of look, regenerate and review the references:
//   UPDATE_REFERENCES=1 npx vitest run test/reference.test.ts
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, inspectInput, DEFAULT_LIMITS, runStep } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';
import { builtinPlugins } from '@atelier/plugins';
import { photo } from './helpers.ts';

const refDir = fileURLToPath(new URL('./fixtures/reference/', import.meta.url));
const update = process.env['UPDATE_REFERENCES'] === '1';
/** Below this SSIM (1 = identical) a plugin's look has changed. */
const MIN_SSIM = 0.97;

/** Extra parameter sets per plugin, beside its defaults; transforms need some to do anything. */
const cases: Record<string, Record<string, Record<string, unknown>>> = {
  resize: { 'width-200': { width: 200 } },
  crop: { centre: { left: 100, top: 50, width: 160, height: 120 } },
  rotate: { '30deg': { angle: 30 } },
  blur: { 'sigma-3': { sigma: 3 } },
  watermark: { text: { text: 'Atelier' } },
};

let input: RawImage;

beforeAll(async () => {
  const bytes = await readFile(photo('coffee.png'));
  const decoded = await decodeImage(bytes, await inspectInput(bytes, DEFAULT_LIMITS), DEFAULT_LIMITS);
  const { data, info } = await sharp(decoded.data, {
    raw: { width: decoded.width, height: decoded.height, channels: decoded.channels },
  })
    .resize(360)
    .raw()
    .toBuffer({ resolveWithObject: true });
  input = { data, width: info.width, height: info.height, channels: 3 };
  await mkdir(refDir, { recursive: true });
});

async function toImageData(
  image: RawImage,
): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .ensureAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

// The AI-provider plugins call a provider (test/ai-plugins.test.ts covers them against a fake):
// they have no reference image.
const local = builtinPlugins.filter((plugin) => plugin.capabilities === undefined);
const all: [string, AnyPlugin, Record<string, unknown>][] = local.flatMap((plugin) => [
  [`${plugin.id} (defaults)`, plugin, {}] as [string, AnyPlugin, Record<string, unknown>],
  ...Object.entries(cases[plugin.id] ?? {}).map(
    ([name, params]) =>
      [`${plugin.id} (${name})`, plugin, params] as [string, AnyPlugin, Record<string, unknown>],
  ),
]);

describe('reference images', () => {
  it('cover all six built-in styles', () => {
    const ids = builtinPlugins.map((p) => p.id);
    for (const id of ['cartoon', 'sketch', 'color-pencil', 'oil-painting', 'watercolor', 'pop-art'])
      expect(ids).toContain(id);
  });

  it.each(all)('%s matches its reference and is deterministic', async (label, plugin, params) => {
    const file = `${refDir}${label.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.png`;
    const out = await runStep(plugin, input, params, { seed: 7 });
    const again = await runStep(plugin, input, params, { seed: 7 });
    expect(Buffer.compare(Buffer.from(out.data), Buffer.from(again.data))).toBe(0);
    const png = await sharp(out.data, {
      raw: { width: out.width, height: out.height, channels: out.channels },
    })
      .png()
      .toBuffer();
    if (update || !existsSync(file)) {
      if (!update)
        throw new Error(
          `No reference for ${label}: run UPDATE_REFERENCES=1 npx vitest run test/reference.test.ts and review ${file}`,
        );
      await writeFile(file, png);
      return;
    }
    const ref = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([out.width, out.height]).toEqual([ref.info.width, ref.info.height]);
    const score = ssim(
      await toImageData(out),
      await toImageData({
        data: ref.data,
        width: ref.info.width,
        height: ref.info.height,
        channels: ref.info.channels as RawImage['channels'],
      }),
    ).mssim;
    expect(score, `${label}: SSIM ${score.toFixed(4)} against ${file}`).toBeGreaterThanOrEqual(MIN_SSIM);
  });
});
