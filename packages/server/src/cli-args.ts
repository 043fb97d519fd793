import { InvalidArgumentError } from 'commander';
import { AtelierError } from '@atelier/core';

/** Commander's collector for a repeatable option (`--set a=1 --set b=2`). */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Commander's parser for a whole-number option within `min`..`max`; a usage error otherwise. */
export const integer =
  (name: string, min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    return n;
  };

/**
 * Turns repeated `--set key=value` options into a params object. Values are read as JSON when
 * they parse (numbers, booleans, arrays, quoted strings) and as plain strings otherwise; dotted
 * keys make nested objects (`--set text.size=32`).
 */
export function parseSetOptions(pairs: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new AtelierError('PARAMS_INVALID', `--set expects key=value, got "${pair}".`);
    }
    const keys = pair.slice(0, eq).split('.');
    const raw = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let target = params;
    for (const key of keys.slice(0, -1)) {
      const next = target[key];
      if (next === undefined || next === null || typeof next !== 'object') target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    target[keys.at(-1)!] = value;
  }
  return params;
}
