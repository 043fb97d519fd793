export { createKysely, openDatabase } from './database.ts';
export type { DatabaseHandle, OpenDatabaseOptions } from './database.ts';
export { databaseUrl, ensureDatabase, freePort, startEmbeddedPostgres } from './embedded.ts';
export type { EmbeddedOptions, EmbeddedServer } from './embedded.ts';
export { migrateDown, migrateUp, migrationStatus } from './migrate.ts';
export type { MigrationStatus } from './migrate.ts';
export { createTestDatabase } from './testing.ts';
export type { TestDatabase } from './testing.ts';
export type * from './schema.ts';
