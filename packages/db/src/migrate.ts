import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Migration, MigrationResult } from 'kysely/migration';
import { AtelierError } from '@atelier/core';
import * as initial from './migrations/0001-initial.ts';
import * as jobEvents from './migrations/0002-job-events.ts';
import * as sessions from './migrations/0003-sessions.ts';
import * as quotas from './migrations/0004-quotas.ts';
import * as privateCache from './migrations/0005-private-cache-and-url-epoch.ts';
import * as payments from './migrations/0006-payments.ts';
import * as pluginCapabilities from './migrations/0007-plugin-capabilities.ts';
import * as pluginPackages from './migrations/0008-plugin-packages.ts';
import * as pluginResults from './migrations/0009-plugin-results.ts';
import * as imageAnalysis from './migrations/0010-image-analysis.ts';
import * as gallerySearch from './migrations/0011-gallery-search.ts';
import * as gallerySimilarKnn from './migrations/0012-gallery-similar-knn.ts';

/** Every migration, in order. A new one is a new file in ./migrations, added here. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-job-events': jobEvents,
  '0003-sessions': sessions,
  '0004-quotas': quotas,
  '0005-private-cache-and-url-epoch': privateCache,
  '0006-payments': payments,
  '0007-plugin-capabilities': pluginCapabilities,
  '0008-plugin-packages': pluginPackages,
  '0009-plugin-results': pluginResults,
  '0010-image-analysis': imageAnalysis,
  '0011-gallery-search': gallerySearch,
  '0012-gallery-similar-knn': gallerySimilarKnn,
};

// Generic over the schema: migrations build their own tables, whatever the caller's database type.
function migrator<DB>(db: Kysely<DB>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
    migrationTableName: 'atelier_migrations',
    migrationLockTableName: 'atelier_migrations_lock',
  });
}

export interface MigrationStatus {
  readonly name: string;
  readonly executedAt: Date | undefined;
}

function check(results: readonly MigrationResult[] | undefined, error: unknown): readonly MigrationResult[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new AtelierError(
      'MIGRATION_FAILED',
      `Migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`.replace(
        '  ',
        ' ',
      ),
      { cause: error },
    );
  }
  return results ?? [];
}

/** Applies every pending migration (concurrent callers wait on a lock). Returns the names applied. */
export async function migrateUp<DB>(db: Kysely<DB>): Promise<string[]> {
  const { results, error } = await migrator(db).migrateToLatest();
  return check(results, error).map((r) => r.migrationName);
}

/** Reverts the latest migration. Returns its name, or undefined when none was applied. */
export async function migrateDown<DB>(db: Kysely<DB>): Promise<string | undefined> {
  const { results, error } = await migrator(db).migrateDown();
  return check(results, error)[0]?.migrationName;
}

/** Every known migration and when it ran (undefined: pending). */
export async function migrationStatus<DB>(db: Kysely<DB>): Promise<MigrationStatus[]> {
  const list = await migrator(db).getMigrations();
  return list.map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
