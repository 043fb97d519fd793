import path from 'node:path';
import { z } from 'zod';
import { AtelierError, describeIssues } from '@atelier/core';

const intFromEnv = z.coerce.number().int().positive();

const envSchema = z.object({
  ATELIER_PLUGINS: z.string().optional(),
  ATELIER_PLUGIN_DIR: z.string().optional(),
  ATELIER_THREADS: intFromEnv.optional(),
  ATELIER_MAX_INPUT_BYTES: intFromEnv.optional(),
  ATELIER_MAX_INPUT_PIXELS: intFromEnv.optional(),
  ATELIER_STEP_TIMEOUT_MS: intFromEnv.optional(),
  ATELIER_MAX_MEMORY_MB: intFromEnv.optional(),
});

/** Process configuration, read once at start-up from the environment. */
export interface AtelierConfig {
  /** npm packages whose exported plugins are registered after the built-ins. */
  readonly pluginPackages: readonly string[];
  /** Local directory of plugin files; a missing directory is fine. @default ./plugins */
  readonly pluginDir: string;
  /** Where plugin packages are resolved from. @default the working directory */
  readonly root: string;
  readonly threads?: number;
  readonly limits: {
    maxInputBytes?: number;
    maxInputPixels?: number;
    stepTimeoutMs?: number;
    maxMemoryMb?: number;
  };
}

/**
 * Reads the configuration from environment variables (see docs/operations.md). Bad values give
 * a `PLAN_INVALID`-free, clear `PARAMS_INVALID` error naming the variable.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): AtelierConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new AtelierError('PARAMS_INVALID', `Bad environment: ${describeIssues(parsed.error.issues)}`);
  }
  const e = parsed.data;
  const limits: AtelierConfig['limits'] = {};
  if (e.ATELIER_MAX_INPUT_BYTES !== undefined) limits.maxInputBytes = e.ATELIER_MAX_INPUT_BYTES;
  if (e.ATELIER_MAX_INPUT_PIXELS !== undefined) limits.maxInputPixels = e.ATELIER_MAX_INPUT_PIXELS;
  if (e.ATELIER_STEP_TIMEOUT_MS !== undefined) limits.stepTimeoutMs = e.ATELIER_STEP_TIMEOUT_MS;
  if (e.ATELIER_MAX_MEMORY_MB !== undefined) limits.maxMemoryMb = e.ATELIER_MAX_MEMORY_MB;
  return {
    pluginPackages: (e.ATELIER_PLUGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    pluginDir: path.resolve(cwd, e.ATELIER_PLUGIN_DIR ?? 'plugins'),
    root: cwd,
    ...(e.ATELIER_THREADS === undefined ? {} : { threads: e.ATELIER_THREADS }),
    limits,
  };
}
