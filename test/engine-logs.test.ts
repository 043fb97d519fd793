// What a plugin logs reaches the engine's logger before the run settles: its lines come over the
// run's message port, its result over the worker pool's, and the engine reads what is left on the
// port before it closes it. Until 2026-12-06 lines still in flight when the result came were lost
// (the sandbox test of a secret in a log line failed now and then).
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, isAtelierError, loadPluginDirectory } from '@atelier/core';

const dir = fileURLToPath(new URL('./fixtures/log-plugins/', import.meta.url));
const lines: string[] = [];
const record = (message: string): void => void lines.push(message);
let engine: Engine;
let png: Buffer;

beforeAll(async () => {
  const registry = new PluginRegistry();
  await loadPluginDirectory(registry, dir);
  engine = new Engine({
    registry,
    threads: 1,
    logger: { debug: record, info: record, warn: record, error: record },
  });
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
});
afterAll(() => engine.close());

describe('plugin logs', () => {
  it.each([
    ['fails', true],
    ['succeeds', false],
  ])('every line arrives before a run that %s settles', async (_name, fail) => {
    for (let round = 0; round < 10; round++) {
      lines.length = 0;
      const plan = engine.plan({ steps: [{ plugin: 'test:chatty', params: { lines: 2000, fail } }] });
      const settled = await engine.run(png, plan).then(
        () => 'ok',
        (error: unknown) => (isAtelierError(error) ? error.code : String(error)),
      );
      expect(settled).toBe(fail ? 'PLUGIN_FAILED' : 'ok');
      const got = lines.filter((line) => line.startsWith('line '));
      expect(got.length, `round ${round}`).toBe(2000);
      expect(got.at(-1)).toBe('line 1999');
    }
  });
});
