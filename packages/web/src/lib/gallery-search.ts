// Pure logic of the gallery's search (docs/web.md "Gallery search"): the colour list in the
// address, which search a gallery address asks for, tags typed by people, the API's refusals of a
// title or tags as sentences, and the BlurHash placeholder's pixels. No DOM: unit tested under Node.
import { decode, isBlurhashValid } from 'blurhash';
import { isApiError } from '@atelier/client';
import type { GallerySearchLike } from './gallery.ts';

/** At most this many colours in one colour search (the API's MAX_SEARCH_COLOURS). */
export const MAX_COLOURS = 5;
/** The colour search's tolerance (ΔE76) when none is chosen, and its bounds (the API's). */
export const DEFAULT_TOLERANCE = 12;
export const MAX_TOLERANCE = 40;
/** The API's limits on a title and tags (gallery.setDetails). */
export const MAX_TITLE_LENGTH = 200;
export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 50;
/** The colour a new colour picker starts at. */
export const FIRST_COLOUR = '#1d3557';

/** Colours a new picker starts at, in turn (any can be changed). */
const MORE_COLOURS = ['#e63946', '#f1faee', '#a8dadc', '#457b9d', '#ffb703', '#2a9d8f'] as const;

/** The colour a newly added picker starts at: the first of a small set not already chosen. */
export function nextColour(chosen: readonly string[]): string {
  return MORE_COLOURS.find((c) => !chosen.includes(c)) ?? '#808080';
}

/** A colour as `#rrggbb` in lower case (`1D3557`, `#1d3557`, `#abc` all accepted), or undefined. */
export function normaliseHex(value: string): string | undefined {
  const s = value.trim().replace(/^#/, '').toLowerCase();
  if (/^[0-9a-f]{6}$/.test(s)) return `#${s}`;
  if (/^[0-9a-f]{3}$/.test(s)) return `#${[...s].map((c) => c + c).join('')}`;
  return undefined;
}

/**
 * The colours of the address's `colors` (comma-separated): the valid ones, normalised, without
 * repeats, at most {@link MAX_COLOURS}. A hand-edited address with junk in it still searches.
 */
export function parseColours(param: string | undefined): string[] {
  if (!param) return [];
  const out: string[] = [];
  for (const part of param.split(',')) {
    const hex = normaliseHex(part);
    if (hex && !out.includes(hex)) out.push(hex);
    if (out.length === MAX_COLOURS) break;
  }
  return out;
}

/** The address's `colors` for a list of colours ('' for none, which removes it). */
export function coloursParam(colours: readonly string[]): string {
  return parseColours(colours.join(',')).join(',');
}

/** A tolerance from the address: a whole ΔE from 1 to {@link MAX_TOLERANCE}, else undefined. */
export function parseTolerance(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TOLERANCE) return undefined;
  return n;
}

/** Which list the Photos tab shows: ranked by colour, found by words, or every photo. */
export type PhotoSearch =
  | { readonly kind: 'colour'; readonly colours: readonly string[]; readonly tolerance: number }
  | { readonly kind: 'text'; readonly q: string }
  | { readonly kind: 'all' };

/**
 * The search an address asks for. Colours win over words when an address has both (the form
 * never makes one: the API answers colour and words separately).
 */
export function photoSearchOf(search: Pick<GallerySearchLike, 'q' | 'colors' | 'tolerance'>): PhotoSearch {
  const colours = parseColours(search.colors);
  if (colours.length > 0)
    return { kind: 'colour', colours, tolerance: search.tolerance ?? DEFAULT_TOLERANCE };
  const q = search.q?.trim();
  if (q) return { kind: 'text', q };
  return { kind: 'all' };
}

/**
 * Tags as people type them: separated by commas (or new lines), trimmed, lower case, without
 * repeats or empty ones: what the API stores, so the form shows what will be saved.
 */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[,\n]/)) {
    const tag = part.trim().toLowerCase();
    if (tag && !out.includes(tag)) out.push(tag);
  }
  return out;
}

/** The field of the details form a refusal is about, with the sentence to show beside it. */
export interface DetailsProblem {
  readonly field: 'title' | 'tags';
  readonly message: string;
}

/**
 * What the details form says when gallery.setDetails refuses a field (PARAMS_INVALID with
 * `details.issues[].path`): beside the title, or beside the tags naming the tag at fault.
 * Undefined for any other failure (messageOf handles those).
 */
export function detailsProblem(error: unknown, tags: readonly string[] = []): DetailsProblem | undefined {
  if (!isApiError(error) || error.data?.atelierCode !== 'PARAMS_INVALID') return undefined;
  const issues = error.data.details?.['issues'];
  for (const issue of Array.isArray(issues) ? issues : []) {
    const path: unknown = typeof issue === 'object' && issue !== null && 'path' in issue ? issue.path : [];
    const [field, index] = Array.isArray(path) ? path : [];
    if (field === 'title') return { field, message: `A title has at most ${MAX_TITLE_LENGTH} characters.` };
    if (field === 'tags') {
      // The API names the tag by its index, as a string ("1") or a number.
      const at = typeof index === 'number' || typeof index === 'string' ? Number(index) : NaN;
      const tag = Number.isInteger(at) ? tags[at] : undefined;
      if (tag !== undefined)
        return {
          field,
          message: `The tag "${tag.length > 24 ? `${tag.slice(0, 24)}…` : tag}" is too long: a tag has 1 to ${MAX_TAG_LENGTH} characters.`,
        };
      return {
        field,
        message: `A photo has at most ${MAX_TAGS} tags, each of 1 to ${MAX_TAG_LENGTH} characters.`,
      };
    }
  }
  return undefined;
}

/** How far apart two photos' fingerprints are, for people (Hamming distance in bits of 64). */
export function distanceLabel(bits: number): string {
  if (bits === 0) return 'Identical';
  return `${bits} ${bits === 1 ? 'bit' : 'bits'} apart`;
}

/** A palette for screen readers: "#1d3557 62%, #e63946 20%", heaviest first as the API gives it. */
export function paletteLabel(palette: readonly { readonly hex: string; readonly weight: number }[]): string {
  return palette.map((p) => `${p.hex} ${Math.round(p.weight * 100)}%`).join(', ');
}

/**
 * How long to wait before asking again whether an image's analysis is done: 1 s at first (it
 * usually takes a moment), then longer each time, at most 10 s (a busy queue).
 */
export function analysisPollMs(attempt: number): number {
  return Math.min(10_000, Math.round(1000 * 1.5 ** Math.max(0, attempt)));
}

/** The size a BlurHash is decoded at: `longest` px on the long side, the image's own aspect. */
export function placeholderSize(
  aspect: number | null | undefined,
  longest = 32,
): { width: number; height: number } {
  const a = aspect && Number.isFinite(aspect) && aspect > 0 ? aspect : 4 / 3;
  return a >= 1
    ? { width: longest, height: Math.max(1, Math.round(longest / a)) }
    : { width: Math.max(1, Math.round(longest * a)), height: longest };
}

/**
 * The pixels (RGBA) of a BlurHash placeholder at {@link placeholderSize}, or null for a hash the
 * decoder refuses (the thumbnail's plain background shows instead).
 */
export function placeholderPixels(
  hash: string,
  aspect: number | null | undefined,
): { width: number; height: number; pixels: Uint8ClampedArray } | null {
  if (!isBlurhashValid(hash).result) return null;
  const { width, height } = placeholderSize(aspect);
  return { width, height, pixels: decode(hash, width, height) };
}

/** The name a photo goes by: its title, else its file name, else when it was uploaded. */
export function photoName(
  image: { readonly title: string | null; readonly originalName: string | null; readonly createdAt: string },
  formatDate: (iso: string) => string,
): string {
  return image.title ?? image.originalName ?? `Photo of ${formatDate(image.createdAt)}`;
}
