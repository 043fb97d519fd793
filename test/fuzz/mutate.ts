// Format-aware mutations of image files, and the fast-check arbitrary that draws fuzz cases.
//
// A case is a seed file (test/fixtures/fuzz), a list of mutations, a style and an output format.
// The mutated bytes are a pure function of the case (`caseBytes`), so a case is replayable from
// its description or, simpler, from the bytes the runner writes out when a case fails.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';

export type SeedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';

export interface Seed {
  readonly name: string;
  readonly format: SeedFormat;
  readonly bytes: Uint8Array;
}

/** Where a mutation lands is an integer taken modulo what it indexes, so any integer is valid. */
export type Mutation =
  /** Flips one bit. */
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  /** Overwrites one byte. */
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  /** Keeps the first `permille`/1000 of the file. */
  | { readonly kind: 'truncate'; readonly permille: number }
  /**
   * Changes a header field the format parser found (dimensions, bit depth, colour type,
   * component count, strip offsets...): sets it, or multiplies it (a dimension lie).
   */
  | {
      readonly kind: 'field';
      readonly field: number;
      readonly value: { readonly set: number } | { readonly times: number };
    }
  /** Repeats a chunk (PNG chunk, JPEG segment, RIFF chunk, GIF block, ISOBMFF box, TIFF IFD entry). */
  | { readonly kind: 'duplicate'; readonly chunk: number; readonly times: number }
  /** Removes a chunk. */
  | { readonly kind: 'drop'; readonly chunk: number }
  /** Inserts bytes. */
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: readonly number[] };

export interface FuzzCase {
  readonly seed: string;
  readonly mutations: readonly Mutation[];
  /** Recompute PNG CRCs and the RIFF size after mutating, so the damage reaches past the checksums. */
  readonly fixChecksums: boolean;
  readonly style: string;
  readonly output: 'jpeg' | 'png' | 'webp' | 'avif';
}

export const STYLES = ['cartoon', 'sketch', 'color-pencil', 'oil-painting', 'watercolor', 'pop-art'] as const;
export const OUTPUTS = ['jpeg', 'png', 'webp', 'avif'] as const;

const EXTENSIONS: Readonly<Record<string, SeedFormat>> = {
  '.jpg': 'jpeg',
  '.png': 'png',
  '.webp': 'webp',
  '.gif': 'gif',
  '.avif': 'avif',
  '.tiff': 'tiff',
};

/** The extension a file of each format gets when a case is written out. */
export const FORMAT_EXTENSIONS: Readonly<Record<SeedFormat, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  avif: 'avif',
  tiff: 'tiff',
};

export const SEED_DIR = fileURLToPath(new URL('../fixtures/fuzz/', import.meta.url));

/** The committed seed files, in name order (the order is part of what a fuzz seed means). */
export function loadSeeds(dir = SEED_DIR): Seed[] {
  return readdirSync(dir)
    .filter((name) => EXTENSIONS[path.extname(name)] !== undefined)
    .sort()
    .map((name) => ({
      name,
      format: EXTENSIONS[path.extname(name)]!,
      bytes: new Uint8Array(readFileSync(path.join(dir, name))),
    }));
}

// ---------------------------------------------------------------------------------------------
// Parsers: where the chunks and the header fields of each format are. They are lenient and stop
// at the first thing that does not parse, since they run on already-mutated bytes.

interface Span {
  readonly start: number;
  readonly end: number;
}

interface Field {
  readonly name: string;
  readonly at: number;
  readonly size: 1 | 2 | 3 | 4;
  readonly littleEndian: boolean;
}

const u16be = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
const u32be = (b: Uint8Array, at: number): number => u16be(b, at) * 0x10000 + u16be(b, at + 2);
const u16le = (b: Uint8Array, at: number): number => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
const u32le = (b: Uint8Array, at: number): number => u16le(b, at) + u16le(b, at + 2) * 0x10000;
const fourcc = (b: Uint8Array, at: number): string =>
  String.fromCharCode(b[at] ?? 0, b[at + 1] ?? 0, b[at + 2] ?? 0, b[at + 3] ?? 0);

function pngChunks(b: Uint8Array): Span[] {
  const spans: Span[] = [];
  let at = 8;
  while (at + 12 <= b.length) {
    const end = at + 12 + u32be(b, at);
    if (end > b.length) break;
    spans.push({ start: at, end });
    at = end;
  }
  return spans;
}

function pngFields(b: Uint8Array): Field[] {
  if (fourcc(b, 12) !== 'IHDR') return [];
  const be = (name: string, at: number, size: Field['size']): Field => ({
    name,
    at,
    size,
    littleEndian: false,
  });
  return [
    be('IHDR width', 16, 4),
    be('IHDR height', 20, 4),
    be('IHDR bit depth', 24, 1),
    be('IHDR colour type', 25, 1),
    be('IHDR interlace', 28, 1),
  ];
}

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegChunks(b: Uint8Array): Span[] {
  const spans: Span[] = [];
  let at = 2;
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1]!;
    if (marker === 0xd9) break;
    let end = at + 2 + u16be(b, at + 2);
    if (marker === 0xda) {
      // The scan's entropy-coded data runs to the next marker that is not a stuffed byte or RSTn.
      while (
        end + 1 < b.length &&
        !(b[end] === 0xff && b[end + 1] !== 0 && !(b[end + 1]! >= 0xd0 && b[end + 1]! <= 0xd7))
      )
        end++;
    }
    if (end > b.length || end <= at) break;
    spans.push({ start: at, end });
    at = end;
  }
  return spans;
}

function jpegFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  for (const { start } of jpegChunks(b)) {
    const marker = b[start + 1]!;
    if (isSof(marker)) {
      const be = (name: string, at: number, size: Field['size']): Field => ({
        name: `SOF${(marker - 0xc0).toString(16)} ${name}`,
        at: start + at,
        size,
        littleEndian: false,
      });
      fields.push(
        be('height', 5, 2),
        be('width', 7, 2),
        be('precision', 4, 1),
        be('components', 9, 1),
        be('sampling', 11, 1),
        be('quant table', 12, 1),
      );
    } else if (marker === 0xdd) {
      fields.push({ name: 'DRI interval', at: start + 4, size: 2, littleEndian: false });
    } else if (marker === 0xda) {
      fields.push({ name: 'SOS components', at: start + 4, size: 1, littleEndian: false });
    }
  }
  return fields;
}

function riffChunks(b: Uint8Array): Span[] {
  const spans: Span[] = [];
  let at = 12;
  while (at + 8 <= b.length) {
    const size = u32le(b, at + 4);
    const end = at + 8 + size + (size & 1);
    if (end > b.length + 1) break;
    spans.push({ start: at, end: Math.min(end, b.length) });
    at = end;
  }
  return spans;
}

function webpFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  for (const { start } of riffChunks(b)) {
    const le = (name: string, at: number, size: Field['size']): Field => ({
      name,
      at: start + 8 + at,
      size,
      littleEndian: true,
    });
    switch (fourcc(b, start)) {
      case 'VP8X':
        fields.push(le('VP8X flags', 0, 1), le('VP8X width-1', 4, 3), le('VP8X height-1', 7, 3));
        break;
      case 'VP8 ':
        fields.push(le('VP8 frame tag', 0, 3), le('VP8 width', 6, 2), le('VP8 height', 8, 2));
        break;
      case 'VP8L':
        fields.push(le('VP8L width/height/alpha/version bits', 1, 4));
        break;
      case 'ALPH':
        fields.push(le('ALPH flags', 0, 1));
        break;
      case 'ANMF':
        fields.push(le('ANMF width-1', 6, 3), le('ANMF height-1', 9, 3));
        break;
    }
  }
  return fields;
}

/** GIF: the header with its colour table, then one span per extension or image block. */
function gifChunks(b: Uint8Array): Span[] {
  const spans: Span[] = [];
  const tableSize = (flags: number): number => (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  let at = 13 + tableSize(b[10] ?? 0);
  const subBlocks = (from: number): number => {
    let p = from;
    while (p < b.length && b[p] !== 0) p += 1 + b[p]!;
    return p + 1;
  };
  while (at < b.length) {
    const start = at;
    if (b[at] === 0x21) at = subBlocks(at + 2);
    else if (b[at] === 0x2c) at = subBlocks(at + 10 + tableSize(b[at + 9] ?? 0) + 1);
    else break;
    if (at > b.length) break;
    spans.push({ start, end: at });
  }
  return spans;
}

function gifFields(b: Uint8Array): Field[] {
  const le = (name: string, at: number, size: Field['size']): Field => ({
    name,
    at,
    size,
    littleEndian: true,
  });
  const fields = [le('screen width', 6, 2), le('screen height', 8, 2), le('screen flags', 10, 1)];
  for (const { start } of gifChunks(b)) {
    if (b[start] === 0x2c) {
      fields.push(
        le('frame left', start + 1, 2),
        le('frame top', start + 3, 2),
        le('frame width', start + 5, 2),
        le('frame height', start + 7, 2),
        le('frame flags', start + 9, 1),
      );
    } else if (b[start + 1] === 0xf9) {
      fields.push(le('graphic control flags', start + 3, 1));
    }
  }
  return fields;
}

function isoBoxes(b: Uint8Array): Span[] {
  const spans: Span[] = [];
  let at = 0;
  while (at + 8 <= b.length) {
    let size = u32be(b, at);
    if (size === 0) size = b.length - at;
    if (size === 1) size = u32be(b, at + 8) * 2 ** 32 + u32be(b, at + 12);
    if (size < 8 || at + size > b.length) break;
    spans.push({ start: at, end: at + size });
    at += size;
  }
  return spans;
}

function avifFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  const be = (name: string, at: number, size: Field['size']): Field => ({
    name,
    at,
    size,
    littleEndian: false,
  });
  for (let at = 4; at + 4 <= b.length; at++) {
    switch (fourcc(b, at)) {
      case 'ispe':
        fields.push(be('ispe width', at + 8, 4), be('ispe height', at + 12, 4));
        break;
      case 'pixi':
        fields.push(be('pixi channels', at + 8, 1), be('pixi bits', at + 9, 1));
        break;
      case 'av1C':
        fields.push(be('av1C profile/level', at + 5, 1), be('av1C flags', at + 6, 1));
        break;
      case 'iloc':
        fields.push(be('iloc sizes', at + 8, 1), be('iloc extent', at + 20, 4));
        break;
    }
  }
  return fields;
}

interface TiffIfd {
  readonly littleEndian: boolean;
  readonly at: number;
  readonly count: number;
}

function tiffIfd(b: Uint8Array): TiffIfd | undefined {
  const littleEndian = b[0] === 0x49;
  const at = littleEndian ? u32le(b, 4) : u32be(b, 4);
  if (at + 2 > b.length) return undefined;
  const count = littleEndian ? u16le(b, at) : u16be(b, at);
  return { littleEndian, at, count: Math.min(count, Math.floor((b.length - at - 2) / 12)) };
}

function tiffChunks(b: Uint8Array): Span[] {
  const ifd = tiffIfd(b);
  if (!ifd) return [];
  return Array.from({ length: ifd.count }, (_, i) => ({
    start: ifd.at + 2 + 12 * i,
    end: ifd.at + 14 + 12 * i,
  }));
}

const TIFF_TAGS: Readonly<Record<number, string>> = {
  256: 'ImageWidth',
  257: 'ImageLength',
  258: 'BitsPerSample',
  259: 'Compression',
  262: 'Photometric',
  273: 'StripOffsets',
  277: 'SamplesPerPixel',
  278: 'RowsPerStrip',
  279: 'StripByteCounts',
  284: 'PlanarConfiguration',
  317: 'Predictor',
  322: 'TileWidth',
  323: 'TileLength',
  324: 'TileOffsets',
  325: 'TileByteCounts',
  338: 'ExtraSamples',
  339: 'SampleFormat',
};

function tiffFields(b: Uint8Array): Field[] {
  const ifd = tiffIfd(b);
  if (!ifd) return [];
  const fields: Field[] = [{ name: 'IFD entry count', at: ifd.at, size: 2, littleEndian: ifd.littleEndian }];
  for (const { start } of tiffChunks(b)) {
    const tag = ifd.littleEndian ? u16le(b, start) : u16be(b, start);
    const type = ifd.littleEndian ? u16le(b, start + 2) : u16be(b, start + 2);
    const name = TIFF_TAGS[tag];
    if (name === undefined) continue;
    fields.push(
      { name: `${name} value`, at: start + 8, size: type === 3 ? 2 : 4, littleEndian: ifd.littleEndian },
      { name: `${name} count`, at: start + 4, size: 4, littleEndian: ifd.littleEndian },
    );
  }
  return fields;
}

const PARSERS: Readonly<
  Record<SeedFormat, { chunks: (b: Uint8Array) => Span[]; fields: (b: Uint8Array) => Field[] }>
> = {
  png: { chunks: pngChunks, fields: pngFields },
  jpeg: { chunks: jpegChunks, fields: jpegFields },
  webp: { chunks: riffChunks, fields: webpFields },
  gif: { chunks: gifChunks, fields: gifFields },
  avif: { chunks: isoBoxes, fields: avifFields },
  tiff: { chunks: tiffChunks, fields: tiffFields },
};

// ---------------------------------------------------------------------------------------------
// Applying mutations.

function readField(b: Uint8Array, f: Field): number {
  let v = 0;
  for (let i = 0; i < f.size; i++) {
    const byte = b[f.at + (f.littleEndian ? i : f.size - 1 - i)] ?? 0;
    v += byte * 2 ** (8 * i);
  }
  return v;
}

function writeField(b: Uint8Array, f: Field, value: number): void {
  const max = 2 ** (8 * f.size);
  let v = ((Math.floor(value) % max) + max) % max;
  for (let i = 0; i < f.size; i++) {
    const at = f.at + (f.littleEndian ? i : f.size - 1 - i);
    if (at < b.length) b[at] = v & 0xff;
    v = Math.floor(v / 256);
  }
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function applyOne(format: SeedFormat, input: Uint8Array, m: Mutation): Uint8Array {
  const b = new Uint8Array(input);
  if (b.length === 0) return b;
  const parser = PARSERS[format];
  switch (m.kind) {
    case 'flip':
      b[m.at % b.length]! ^= 1 << (m.bit & 7);
      return b;
    case 'set':
      b[m.at % b.length] = m.value & 0xff;
      return b;
    case 'truncate':
      return b.subarray(0, Math.floor((b.length * m.permille) / 1000));
    case 'field': {
      const fields = parser.fields(b);
      const field = fields[m.field % Math.max(1, fields.length)];
      if (!field) return b;
      const value = 'set' in m.value ? m.value.set : readField(b, field) * m.value.times;
      writeField(b, field, value);
      return b;
    }
    case 'duplicate': {
      const chunks = parser.chunks(b);
      const chunk = chunks[m.chunk % Math.max(1, chunks.length)];
      if (!chunk) return b;
      const copy = b.subarray(chunk.start, chunk.end);
      const out = concat(
        b.subarray(0, chunk.end),
        ...Array.from({ length: m.times }, () => copy),
        b.subarray(chunk.end),
      );
      if (format === 'tiff') bumpTiffCount(out, m.times);
      return out;
    }
    case 'drop': {
      const chunks = parser.chunks(b);
      const chunk = chunks[m.chunk % Math.max(1, chunks.length)];
      if (!chunk) return b;
      const out = concat(b.subarray(0, chunk.start), b.subarray(chunk.end));
      if (format === 'tiff') bumpTiffCount(out, -1);
      return out;
    }
    case 'insert': {
      const at = m.at % (b.length + 1);
      return concat(b.subarray(0, at), Uint8Array.from(m.bytes), b.subarray(at));
    }
  }
}

/** A TIFF IFD starts with its entry count; keep it in step with duplicated or dropped entries. */
function bumpTiffCount(b: Uint8Array, by: number): void {
  const ifd = tiffIfd(b);
  if (!ifd) return;
  const field: Field = { name: 'count', at: ifd.at, size: 2, littleEndian: ifd.littleEndian };
  writeField(b, field, readField(b, field) + by);
}

/** Recomputes every PNG chunk's CRC, or the RIFF size of a WebP file. */
function fixChecksums(format: SeedFormat, b: Uint8Array): void {
  if (format === 'png') {
    for (const { start, end } of pngChunks(b)) {
      const crc = crc32(b.subarray(start + 4, end - 4));
      writeField(b, { name: 'crc', at: end - 4, size: 4, littleEndian: false }, crc);
    }
  } else if (format === 'webp' && b.length >= 8) {
    writeField(b, { name: 'RIFF size', at: 4, size: 4, littleEndian: true }, b.length - 8);
  }
}

/** The bytes of a case: its seed with its mutations applied in order. */
export function caseBytes(seeds: readonly Seed[], c: FuzzCase): Uint8Array {
  const seed = seeds.find((s) => s.name === c.seed);
  if (!seed) throw new Error(`no fuzz seed named ${c.seed}`);
  let bytes: Uint8Array = seed.bytes;
  for (const m of c.mutations) bytes = applyOne(seed.format, bytes, m);
  bytes = new Uint8Array(bytes);
  if (c.fixChecksums) fixChecksums(seed.format, bytes);
  return bytes;
}

/** The names of the header fields a format's parser finds in a file (for docs and tests). */
export function headerFields(format: SeedFormat, bytes: Uint8Array): string[] {
  return PARSERS[format].fields(bytes).map((f) => f.name);
}

/** How many chunks a format's parser finds in a file (for tests). */
export function chunkCount(format: SeedFormat, bytes: Uint8Array): number {
  return PARSERS[format].chunks(bytes).length;
}

// ---------------------------------------------------------------------------------------------
// The arbitrary.

const position = fc.nat({ max: 0x7fffffff });
const interesting = fc.constantFrom(
  0,
  1,
  2,
  3,
  7,
  8,
  15,
  16,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  10001,
  16384,
  30000,
  0x7fffffff,
  0xffffffff,
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip'), at: position, bit: fc.nat({ max: 7 }) }), weight: 4 },
  {
    arbitrary: fc.record({
      kind: fc.constant('set'),
      at: position,
      value: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80), fc.nat({ max: 255 })),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('truncate'), permille: fc.nat({ max: 999 }) }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('field'),
      field: fc.nat({ max: 1000 }),
      value: fc.oneof(
        fc.record({ set: fc.oneof(interesting, fc.nat()) }),
        fc.record({ times: fc.constantFrom(0, 2, 3, 8, 16, 64, 100, 200, 1000) }),
      ),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('duplicate'),
      chunk: fc.nat({ max: 1000 }),
      times: fc.integer({ min: 1, max: 4 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('drop'), chunk: fc.nat({ max: 1000 }) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('insert'),
      at: position,
      bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }),
    }),
    weight: 1,
  },
);

/** Draws fuzz cases over the given seeds: 1 to 4 mutations, a style and an output format. */
export function fuzzCaseArbitrary(seeds: readonly Seed[]): fc.Arbitrary<FuzzCase> {
  return fc.record({
    seed: fc.constantFrom(...seeds.map((s) => s.name)),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    fixChecksums: fc.boolean(),
    style: fc.constantFrom(...STYLES),
    output: fc.constantFrom(...OUTPUTS),
  });
}
