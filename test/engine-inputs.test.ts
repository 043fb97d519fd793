// The engine's input handling over real worker threads: every awkward input gives the right
// image or a coded error, and memory stays bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, isAtelierError } from '@atelier/core';
import type { Plan } from '@atelier/core';
import { bad, photo, pixels, read, testRegistry } from './helpers.ts';

let engine: Engine;
let keep: Plan; // invert with amount 0: the output shows what the engine decoded

beforeAll(async () => {
  engine = new Engine({ registry: await testRegistry(), threads: 2 });
  keep = engine.plan({
    steps: [{ plugin: 'acme:invert', params: { amount: 0 } }],
    output: { format: 'png' },
  });
});
afterAll(() => engine.close());

async function codeOf(input: Uint8Array, plan: Plan = keep): Promise<string> {
  try {
    await engine.run(input, plan);
    return 'no error';
  } catch (error) {
    expect(isAtelierError(error)).toBe(true);
    return (error as { code: string }).code;
  }
}

describe('bad inputs get coded errors', () => {
  it.each([
    ['a truncated JPEG', photo('truncated.jpg'), 'IMAGE_CORRUPT'],
    ['an empty file', bad('empty.jpg'), 'IMAGE_EMPTY'],
    ['a text file named .jpg', bad('text.jpg'), 'IMAGE_FORMAT_UNSUPPORTED'],
    ['an SVG', bad('drawing.svg'), 'IMAGE_FORMAT_UNSUPPORTED'],
    ['a PNG claiming 30000x30000', bad('bomb-30000x30000.png'), 'IMAGE_TOO_MANY_PIXELS'],
  ])('%s', async (_what, file, code) => {
    expect(await codeOf(await read(file))).toBe(code);
  });

  it('rejects the 30000x30000 PNG from its header, without allocating its pixels', async () => {
    const before = process.memoryUsage().rss;
    const bomb = await read(bad('bomb-30000x30000.png'));
    const roomy = engine.plan({ steps: [], limits: { maxInputPixels: 1_000_000_000 } });
    // With a limit above its size it gets to the decoder, which finds the data missing.
    expect(await codeOf(bomb, roomy)).toBe('IMAGE_CORRUPT');
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('rejects a file over the byte limit before reading its header', async () => {
    const small = engine.plan({ steps: [], limits: { maxInputBytes: 1000 } });
    expect(await codeOf(await read(photo('chelsea.png')), small)).toBe('IMAGE_TOO_LARGE');
  });

  it('rejects formats the plan does not allow', async () => {
    const pngOnly = engine.plan({ steps: [], limits: { formats: ['png'] } });
    expect(await codeOf(await read(photo('rocket.jpg')), pngOnly)).toBe('IMAGE_FORMAT_UNSUPPORTED');
  });
});

describe('awkward but valid inputs decode right', () => {
  it('converts CMYK to sRGB with the right colours', async () => {
    const result = await engine.run(await read(bad('cmyk.jpg')), keep);
    const out = await pixels(result.data);
    const ref = await pixels(await read(bad('rgb16.png'))); // the same photo, 16-bit RGB
    expect(out.channels).toBe(3);
    let diff = 0;
    for (let i = 0; i < out.data.length; i++) diff += Math.abs(out.data[i]! - ref.data[i]!);
    expect(diff / out.data.length).toBeLessThan(12); // JPEG + CMYK round trip, not a colour shift
  });

  it('reads 16-bit PNG as 8-bit', async () => {
    const result = await engine.run(await read(bad('rgb16.png')), keep);
    expect(result.input.depth).toBe('ushort');
    expect([result.width, result.height, result.channels]).toEqual([160, 106, 3]);
  });

  it('applies EXIF orientation', async () => {
    const result = await engine.run(await read(bad('exif-rotate-6.jpg')), keep);
    expect(result.input.orientation).toBe(6);
    expect([result.width, result.height]).toEqual([106, 160]);
  });

  it('uses the first frame of an animation and says so', async () => {
    const result = await engine.run(await read(bad('animated.gif')), keep);
    expect(result.input).toMatchObject({ format: 'gif', pages: 3, firstFrameOnly: true });
    expect([result.width, result.height]).toEqual([64, 48]);
    const out = await pixels(result.data);
    expect([out.data[0], out.data[1], out.data[2]]).toEqual([255, 0, 0]); // the red frame
  });

  it('keeps alpha through a style that preserves it', async () => {
    const invert = engine.plan({ steps: [{ plugin: 'acme:invert' }], output: { format: 'png' } });
    const result = await engine.run(await read(bad('alpha.png')), invert);
    const out = await pixels(result.data);
    const src = await pixels(await read(bad('alpha.png')));
    expect(out.channels).toBe(4);
    expect(out.data[3]).toBe(src.data[3]);
    expect(out.data[0]).toBe(255 - src.data[0]!);
  });

  it('reads palette PNG, WebP and JPEG', async () => {
    for (const file of [bad('palette-grey.png'), photo('rocket.jpg')]) {
      const result = await engine.run(await read(file), keep);
      expect(result.channels).toBe(3);
    }
  });

  it('encodes every output format, and strips metadata', async () => {
    const input = await read(bad('exif-rotate-6.jpg'));
    for (const format of ['jpeg', 'png', 'webp', 'avif'] as const) {
      const plan = engine.plan({ steps: [], output: { format } });
      const result = await engine.run(input, plan);
      const { default: sharp } = await import('sharp');
      const meta = await sharp(result.data).metadata();
      expect(meta.format === 'heif' ? 'avif' : meta.format).toBe(format);
      expect(meta.exif).toBeUndefined();
      expect(meta.orientation).toBeUndefined();
    }
  });
});

describe('Engine.decode: an input decoded ahead of time', () => {
  it('runs to the same image as its bytes, with the same input info, EXIF orientation applied', async () => {
    const bytes = await read(bad('exif-rotate-6.jpg'));
    const decoded = await engine.decode(bytes);
    expect(decoded.image.width).toBe(
      decoded.info.orientation >= 5 ? decoded.info.height : decoded.info.width,
    );
    const [fromBytes, fromDecoded] = [await engine.run(bytes, keep), await engine.run(decoded, keep)];
    expect(fromDecoded.input).toEqual(fromBytes.input);
    expect([fromDecoded.width, fromDecoded.height]).toEqual([fromBytes.width, fromBytes.height]);
    expect(
      Buffer.from((await pixels(fromDecoded.data)).data).equals(
        Buffer.from((await pixels(fromBytes.data)).data),
      ),
    ).toBe(true);
  });

  it('runs again and again: a run neither takes (transfers) nor changes the decoded pixels', async () => {
    const decoded = await engine.decode(await read(photo('rocket.jpg')));
    const before = Buffer.from(decoded.image.data);
    const invert = engine.plan({
      steps: [{ plugin: 'acme:invert', params: { amount: 1 } }],
      output: { format: 'png' },
    });
    const first = await engine.run(decoded, invert);
    const second = await engine.run(decoded, invert);
    expect(Buffer.from(decoded.image.data).equals(before)).toBe(true);
    expect(Buffer.from(second.data).equals(Buffer.from(first.data))).toBe(true);
  });

  it("is checked against each run's own plan limits, with the codes of bytes", async () => {
    const decoded = await engine.decode(await read(photo('rocket.jpg')));
    const tiny = engine.plan({ steps: [], limits: { maxInputPixels: 1000 } });
    const small = engine.plan({ steps: [], limits: { maxInputBytes: 1000 } });
    const pngOnly = engine.plan({ steps: [], limits: { formats: ['png'] } });
    const code = (plan: Plan): Promise<string> =>
      engine.run(decoded, plan).then(
        () => 'no error',
        (error: { code: string }) => error.code,
      );
    expect(await code(tiny)).toBe('IMAGE_TOO_MANY_PIXELS');
    expect(await code(small)).toBe('IMAGE_TOO_LARGE');
    expect(await code(pngOnly)).toBe('IMAGE_FORMAT_UNSUPPORTED');
  });

  it('refuses what run refuses, with the same codes', async () => {
    const code = (bytes: Uint8Array): Promise<string> =>
      engine.decode(bytes).then(
        () => 'no error',
        (error: { code: string }) => error.code,
      );
    expect(await code(await read(photo('truncated.jpg')))).toBe('IMAGE_CORRUPT');
    expect(await code(await read(bad('text.jpg')))).toBe('IMAGE_FORMAT_UNSUPPORTED');
    expect(await code(await read(bad('bomb-30000x30000.png')))).toBe('IMAGE_TOO_MANY_PIXELS');
  });
});
