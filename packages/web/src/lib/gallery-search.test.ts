import { encode } from 'blurhash';
import { TRPCClientError } from '@atelier/client';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOLERANCE,
  analysisPollMs,
  coloursParam,
  detailsProblem,
  distanceLabel,
  nextColour,
  normaliseHex,
  paletteLabel,
  parseColours,
  parseTags,
  parseTolerance,
  photoName,
  photoSearchOf,
  placeholderPixels,
  placeholderSize,
} from './gallery-search.ts';

describe('colours in the address', () => {
  it('normalises #rrggbb, rrggbb and #rgb; refuses anything else', () => {
    expect(normaliseHex('#1D3557')).toBe('#1d3557');
    expect(normaliseHex(' 1d3557 ')).toBe('#1d3557');
    expect(normaliseHex('#abc')).toBe('#aabbcc');
    expect(normaliseHex('navy')).toBeUndefined();
    expect(normaliseHex('#1d35570')).toBeUndefined();
    expect(normaliseHex('')).toBeUndefined();
  });
  it('keeps the valid colours, once each, at most five', () => {
    expect(parseColours(undefined)).toEqual([]);
    expect(parseColours('#1d3557,junk,1D3557,#e63946')).toEqual(['#1d3557', '#e63946']);
    expect(parseColours('#111111,#222222,#333333,#444444,#555555,#666666')).toHaveLength(5);
    expect(coloursParam(['#1D3557', '#e63946', '#1d3557'])).toBe('#1d3557,#e63946');
    expect(coloursParam([])).toBe('');
  });
  it('starts a new picker at a colour not chosen yet', () => {
    expect(nextColour(['#1d3557'])).toBe('#e63946');
    expect(nextColour(['#1d3557', '#e63946'])).toBe('#f1faee');
  });
  it('takes a whole tolerance from 1 to 40 only', () => {
    expect(parseTolerance(12)).toBe(12);
    expect(parseTolerance('30')).toBe(30);
    expect(parseTolerance(0)).toBeUndefined();
    expect(parseTolerance(41)).toBeUndefined();
    expect(parseTolerance(2.5)).toBeUndefined();
    expect(parseTolerance('x')).toBeUndefined();
  });
});

describe('photoSearchOf', () => {
  it('searches by colour when colours are set, with the default tolerance', () => {
    expect(photoSearchOf({ colors: '#1d3557' })).toEqual({
      kind: 'colour',
      colours: ['#1d3557'],
      tolerance: DEFAULT_TOLERANCE,
    });
    expect(photoSearchOf({ colors: '#1d3557', tolerance: 20, q: 'sea' })).toMatchObject({
      kind: 'colour',
      tolerance: 20,
    });
  });
  it('searches by words when only words are set, and lists everything otherwise', () => {
    expect(photoSearchOf({ q: '  sunset beach ' })).toEqual({ kind: 'text', q: 'sunset beach' });
    expect(photoSearchOf({ q: '   ' })).toEqual({ kind: 'all' });
    expect(photoSearchOf({ colors: 'junk' })).toEqual({ kind: 'all' });
  });
});

describe('parseTags', () => {
  it('splits on commas and lines, trims, lower-cases and drops repeats and empties', () => {
    expect(parseTags(' Sea, sunset,,SEA\nholiday 2026 , ')).toEqual(['sea', 'sunset', 'holiday 2026']);
    expect(parseTags('')).toEqual([]);
  });
});

/** A tRPC error as the client receives it from the API (the shape errorFormatter gives). */
function apiError(code: string, details: Record<string, unknown> | null): unknown {
  return TRPCClientError.from({
    error: {
      message: 'refused',
      code: -32600,
      data: { code: 'BAD_REQUEST', httpStatus: 400, atelierCode: code, details },
    },
  });
}

describe('detailsProblem', () => {
  it('puts a refused title beside the title', () => {
    expect(detailsProblem(apiError('PARAMS_INVALID', { issues: [{ path: ['title'] }] }))).toEqual({
      field: 'title',
      message: 'A title has at most 200 characters.',
    });
  });
  it('names the tag at fault when the API says which one', () => {
    const long = 'x'.repeat(60);
    const problem = detailsProblem(apiError('PARAMS_INVALID', { issues: [{ path: ['tags', 1] }] }), [
      'sea',
      long,
    ]);
    expect(problem?.field).toBe('tags');
    expect(problem?.message).toContain(`"${'x'.repeat(24)}…"`);
    // As the server sends it: every path element a string.
    expect(
      detailsProblem(apiError('PARAMS_INVALID', { issues: [{ path: ['tags', '0'] }] }), ['sea'])?.message,
    ).toBe('The tag "sea" is too long: a tag has 1 to 50 characters.');
    expect(detailsProblem(apiError('PARAMS_INVALID', { issues: [{ path: ['tags'] }] }))?.message).toBe(
      'A photo has at most 50 tags, each of 1 to 50 characters.',
    );
  });
  it('leaves every other failure to messageOf', () => {
    expect(detailsProblem(apiError('IMAGE_NOT_FOUND', null))).toBeUndefined();
    expect(detailsProblem(apiError('PARAMS_INVALID', { issues: [{ path: ['id'] }] }))).toBeUndefined();
    expect(detailsProblem(new Error('offline'))).toBeUndefined();
  });
});

describe('labels', () => {
  it('says how far apart two photos are', () => {
    expect(distanceLabel(0)).toBe('Identical');
    expect(distanceLabel(1)).toBe('1 bit apart');
    expect(distanceLabel(12)).toBe('12 bits apart');
  });
  it('reads a palette out heaviest first, in percent', () => {
    expect(
      paletteLabel([
        { hex: '#1d3557', weight: 0.624 },
        { hex: '#e63946', weight: 0.376 },
      ]),
    ).toBe('#1d3557 62%, #e63946 38%');
  });
  it('polls an analysis often at first, then less, never above 10 s', () => {
    const delays = [0, 1, 2, 3, 4, 5, 10, 50].map(analysisPollMs);
    expect(delays[0]).toBe(1000);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays.at(-1)).toBe(10_000);
  });
});

describe('BlurHash placeholder', () => {
  it('decodes at the image aspect, 32 px on the long side', () => {
    expect(placeholderSize(2)).toEqual({ width: 32, height: 16 });
    expect(placeholderSize(0.5)).toEqual({ width: 16, height: 32 });
    expect(placeholderSize(null)).toEqual({ width: 32, height: 24 });
  });
  it('gives the colour of the encoded picture back', () => {
    const size = 16;
    const navy = new Uint8ClampedArray(size * size * 4);
    for (let i = 0; i < navy.length; i += 4) navy.set([0x1d, 0x35, 0x57, 255], i);
    const hash = encode(navy, size, size, 4, 3);
    const out = placeholderPixels(hash, 1);
    expect(out).not.toBeNull();
    expect(out!.width * out!.height * 4).toBe(out!.pixels.length);
    const [r, g, b, a] = out!.pixels;
    // BlurHash quantises its colours (and decodes through linear light): near, not exact
    // (the package gives 35, 61, 102 for 29, 53, 87), and still a dark blue.
    expect(Math.abs(r! - 0x1d) + Math.abs(g! - 0x35) + Math.abs(b! - 0x57)).toBeLessThan(40);
    expect(b!).toBeGreaterThan(r! + 40);
    expect(a).toBe(255);
  });
  it('refuses a damaged hash', () => {
    expect(placeholderPixels('not a hash', 1)).toBeNull();
  });
});

describe('photoName', () => {
  it('is the title, else the file name, else the upload date', () => {
    const date = (iso: string) => iso.slice(0, 10);
    const base = { title: null, originalName: null, createdAt: '2026-12-04T10:00:00.000Z' };
    expect(photoName({ ...base, title: 'Harbour', originalName: 'a.jpg' }, date)).toBe('Harbour');
    expect(photoName({ ...base, originalName: 'a.jpg' }, date)).toBe('a.jpg');
    expect(photoName(base, date)).toBe('Photo of 2026-12-04');
  });
});
