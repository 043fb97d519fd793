// Pop art on one image with a band helper: the tile's downsample (staged in the output's shared
// memory), its smoothing (gaussianBlurU16 in bands: binomial and box passes) and the histogram
// give the same bytes as on one thread, for the parameters that take each path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry, loadPluginModule } from '@atelier/core';
import type { Engine } from '@atelier/core';
import { bandEngines } from './helpers.ts';

let one: Engine;
let two: Engine;
let input: Uint8Array;

beforeAll(async () => {
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  // 1.6 megapixels: a 1x1 grid's tile is over a million pixels, so its smoothing runs in bands.
  ({ one, two, input } = await bandEngines(registry));
}, 60_000);
afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
});

const render = (engine: Engine, params: Record<string, unknown>) =>
  engine.run(input, engine.plan({ steps: [{ plugin: 'pop-art', params }], output: { format: 'png' } }));

describe('pop art in bands', () => {
  it.each([
    // Box passes (sigma 2), one and three binomial passes (sigma 1 and 1.6), wide box passes.
    { columns: 1, rows: 1 },
    { columns: 1, rows: 1, smoothing: 0.1, palette: 'hue-rotate' },
    { columns: 1, rows: 1, smoothing: 0.16, halftone: true },
    { columns: 1, rows: 1, smoothing: 3, levels: 6 },
    // Halving with colour; a see-through gutter (RGBA output).
    { palette: 'hue-rotate' },
    { columns: 3, rows: 2, gutter: 2, gutterColor: '#00000080' },
  ])(
    'gives the same bytes with a band helper as on one thread (%o)',
    async (params) => {
      const [alone, helped] = await Promise.all([render(one, params), render(two, params)]);
      expect(Buffer.from(helped.data).equals(Buffer.from(alone.data))).toBe(true);
    },
    60_000,
  );
});
