import { z } from 'zod';
import { AtelierError } from './errors.ts';
import type { AnyPlugin } from './plugin.ts';

/** Turns zod issues into one sentence a person can act on. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : '(params)';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Parses `params` with the plugin's schema: fills defaults, checks bounds, rejects unknown keys.
 * Throws `PARAMS_INVALID` naming each bad field.
 */
export function parseParams(plugin: AnyPlugin, params: unknown): Record<string, unknown> {
  const result = plugin.params.strict().safeParse(params ?? {});
  if (!result.success) {
    throw new AtelierError(
      'PARAMS_INVALID',
      `Invalid parameters for "${plugin.id}": ${describeIssues(result.error.issues)}`,
      {
        details: {
          plugin: plugin.id,
          issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
        },
      },
    );
  }
  return result.data as Record<string, unknown>;
}

/** The JSON Schema (draft 2020-12) of a plugin's parameters, as a caller sends them. */
export function paramsJsonSchema(plugin: AnyPlugin): Record<string, unknown> {
  return z.toJSONSchema(plugin.params, { io: 'input' }) as Record<string, unknown>;
}

/** The parameters a plugin runs with when given none. */
export function defaultParams(plugin: AnyPlugin): Record<string, unknown> {
  return plugin.params.parse({}) as Record<string, unknown>;
}
