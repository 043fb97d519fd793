import { AtelierError } from '@atelier/core';

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
