// The administrators' plugin state (enabled, defaults) for the commands that otherwise need no
// database (`atelier styles`, `apply`). The database libraries load only when DATABASE_URL is set.
import type { Plan, PluginGrants, PluginRegistry } from '@atelier/core';
import type { AtelierConfig } from './config.ts';

/** How long `styles` and `apply` wait for the database before going on without it. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Applies the plugin state stored in the database at `DATABASE_URL` to `registry`, once. Without
 * DATABASE_URL it does nothing: the embedded Postgres is not started (or joined) just to list or
 * apply a style, and a command line then honours only the environment. A database that cannot be
 * reached (or is not migrated) costs one warning line on `stderr`, and the registry stays as the
 * environment made it.
 */
export async function applyStoredPluginState(
  config: AtelierConfig,
  registry: PluginRegistry,
  stderr: NodeJS.WritableStream,
): Promise<void> {
  if (config.databaseUrl === undefined) return;
  const [{ createKysely }, { loadPluginState }] = await Promise.all([
    import('@atelier/db'),
    import('@atelier/jobs'),
  ]);
  const { db } = createKysely(config.databaseUrl, 1, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    await loadPluginState({ db, registry });
  } catch (error) {
    // A refused connection to a name with several addresses is an AggregateError without a message.
    const first = error instanceof AggregateError ? (error.errors[0] as unknown) : error;
    const reason = (
      (first instanceof Error && (first.message || (first as NodeJS.ErrnoException).code)) ||
      String(first)
    ).replaceAll(/\s+/g, ' ');
    stderr.write(
      `atelier: warning: cannot read the administrators' plugin state from the database (${reason}); using the environment only\n`,
    );
  } finally {
    await db.destroy();
  }
}

/**
 * The grants `apply` runs `plan` with: read from the database at `DATABASE_URL`, secrets decrypted
 * with `ATELIER_SECRETS_KEY`, for the plan's plugins that declare capabilities. Nothing when none
 * does; without DATABASE_URL, nothing either (the engine then refuses such a plugin with
 * `CAPABILITY_NOT_GRANTED`). Errors (`SECRET_NOT_FOUND`, `SECRETS_KEY_MISSING`, ...) are thrown.
 */
export async function loadStoredGrants(
  config: AtelierConfig,
  registry: PluginRegistry,
  plan: Plan,
): Promise<Record<string, PluginGrants>> {
  const needs = plan.steps.some((s) => {
    const c = registry.get(s.plugin).capabilities;
    return (c?.network?.length ?? 0) > 0 || (c?.secrets?.length ?? 0) > 0;
  });
  if (!needs || config.databaseUrl === undefined) return {};
  const [{ createKysely }, { loadPlanGrants, SecretsKey }] = await Promise.all([
    import('@atelier/db'),
    import('@atelier/jobs'),
  ]);
  const key = config.secretsKey === undefined ? undefined : SecretsKey.parse(config.secretsKey);
  const { db } = createKysely(config.databaseUrl, 1, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    return await loadPlanGrants(db, key, registry, plan);
  } finally {
    await db.destroy();
  }
}
