// What plugins report beside pixels (ctx.reportCost, ctx.annotate): checked and normalised here,
// in the plugin's own thread, so a malformed value fails the step at the call that made it and
// never reaches the host or the database.
import { AtelierError } from './errors.ts';
import type { PluginAnnotation, PluginCost } from './plugin.ts';

/** Longest caption an annotation may carry. */
export const MAX_CAPTION_CHARS = 2000;
/** Most tags an annotation may carry. */
export const MAX_TAGS = 50;
/** Longest tag. */
export const MAX_TAG_CHARS = 64;
/** Longest cost detail. */
export const MAX_COST_DETAIL_CHARS = 500;
/** Most costs one step may report (a plugin that retries reports one per billed call). */
export const MAX_COSTS_PER_STEP = 100;

/** A cost as a run reports it: the plugin's, with the step and plugin it came from. */
export interface StepCost extends PluginCost {
  /** Index of the step in the plan. */
  readonly step: number;
  /** The plugin's id. */
  readonly plugin: string;
  /** The plugin's version. */
  readonly version: string;
}

/** An annotation as a run reports it: the plugin's (normalised), with the step and plugin. */
export interface StepAnnotation {
  readonly step: number;
  readonly plugin: string;
  readonly version: string;
  readonly caption?: string;
  readonly tags?: readonly string[];
}

function invalid(plugin: string, message: string): AtelierError {
  return new AtelierError('PLUGIN_REPORT_INVALID', `Plugin "${plugin}" reported ${message}`, {
    details: { plugin },
  });
}

/**
 * Checks a cost a plugin reports: a finite, non-negative amount, a three-letter currency code
 * (returned upper case), an optional detail of at most {@link MAX_COST_DETAIL_CHARS} characters.
 * Throws `PLUGIN_REPORT_INVALID` otherwise.
 */
export function checkCost(plugin: string, cost: unknown): PluginCost {
  if (cost === null || typeof cost !== 'object') throw invalid(plugin, 'a cost that is not an object.');
  const { amount, currency, detail } = cost as Record<string, unknown>;
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
    throw invalid(plugin, `a cost amount of ${String(amount)}; it must be a finite number, 0 or more.`);
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency))
    throw invalid(
      plugin,
      `the currency ${JSON.stringify(currency)}; use a three-letter ISO 4217 code such as USD.`,
    );
  if (detail !== undefined && (typeof detail !== 'string' || detail.length > MAX_COST_DETAIL_CHARS))
    throw invalid(
      plugin,
      `a cost detail that is not a string of at most ${MAX_COST_DETAIL_CHARS} characters.`,
    );
  return {
    amount,
    currency: currency.toUpperCase(),
    ...(detail === undefined || detail === '' ? {} : { detail }),
  };
}

/**
 * Checks and normalises an annotation: caption trimmed (at most {@link MAX_CAPTION_CHARS}
 * characters), tags trimmed, lower case, whitespace collapsed, empty ones and duplicates dropped
 * (at most {@link MAX_TAGS} of at most {@link MAX_TAG_CHARS} characters each). An annotation with
 * neither caption nor tags is refused. Throws `PLUGIN_REPORT_INVALID`.
 */
export function checkAnnotation(plugin: string, annotation: unknown): PluginAnnotation {
  if (annotation === null || typeof annotation !== 'object')
    throw invalid(plugin, 'an annotation that is not an object.');
  const { caption, tags } = annotation as Record<string, unknown>;
  let cleanCaption: string | undefined;
  if (caption !== undefined) {
    if (typeof caption !== 'string') throw invalid(plugin, 'a caption that is not a string.');
    cleanCaption = caption.trim();
    if (cleanCaption.length > MAX_CAPTION_CHARS)
      throw invalid(plugin, `a caption of ${cleanCaption.length} characters; at most ${MAX_CAPTION_CHARS}.`);
  }
  let cleanTags: string[] | undefined;
  if (tags !== undefined) {
    if (!Array.isArray(tags)) throw invalid(plugin, 'tags that are not an array of strings.');
    if (tags.length > MAX_TAGS) throw invalid(plugin, `${tags.length} tags; at most ${MAX_TAGS}.`);
    const seen = new Set<string>();
    for (const tag of tags as unknown[]) {
      if (typeof tag !== 'string') throw invalid(plugin, 'a tag that is not a string.');
      const clean = tag.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
      if (clean.length > MAX_TAG_CHARS)
        throw invalid(
          plugin,
          `the tag "${clean.slice(0, 80)}"; tags are at most ${MAX_TAG_CHARS} characters.`,
        );
      if (clean !== '') seen.add(clean);
    }
    cleanTags = [...seen];
  }
  if (!cleanCaption && (cleanTags === undefined || cleanTags.length === 0))
    throw invalid(plugin, 'an empty annotation; give a caption, tags or both.');
  return {
    ...(cleanCaption ? { caption: cleanCaption } : {}),
    ...(cleanTags && cleanTags.length > 0 ? { tags: cleanTags } : {}),
  };
}
