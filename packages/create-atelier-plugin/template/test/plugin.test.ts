import { describe, expect, it } from 'vitest';
import { loadImage, runStep } from '@atelier/core';
import { SAMPLE_PHOTO } from '@atelier/plugin-kit';
import { pluginSuite } from '@atelier/plugin-kit/vitest';
import { plugin } from '../src/index.ts';

// Atelier's conformance checks, under a real engine with its real limits: the manifest,
// parameter fuzzing (every valid set renders, every invalid one is refused), determinism, the
// golden image in test/goldens, the time and memory budget from package.json ("atelier"),
// cancellation, and odd inputs (1x1, alpha, grey, 16-bit, 20:1).
pluginSuite(new URL('../src/index.ts', import.meta.url));

// Your own tests of the look, with the SDK's image loader and step runner.
describe('the poster look', () => {
  it('prints exactly `levels` flat colours, the middle one the ink itself', async () => {
    const photo = await loadImage(SAMPLE_PHOTO, { width: 320 });
    const out = await runStep(plugin, photo, { ink: '#2a6f97', levels: 3 });
    expect([out.width, out.height]).toEqual([photo.width, photo.height]);
    const colours = new Set<string>();
    for (let i = 0; i < out.data.length; i += out.channels) {
      colours.add(`${out.data[i]},${out.data[i + 1]},${out.data[i + 2]}`);
    }
    expect(colours.size).toBe(3);
    expect(colours).toContain('42,111,151');
  });
});
