import { migrateDown, migrateUp, migrationStatus } from '@atelier/db';
import type { DatabaseHandle, MigrationStatus } from '@atelier/db';
import { TOKENS, injectable } from './tokens.ts';

/** The database's migrations, for `atelier migrate` (every start also applies them). */
export class MigrationService {
  readonly #database: DatabaseHandle;

  constructor(database: DatabaseHandle) {
    this.#database = database;
  }

  /** Applies pending migrations; returns their names. */
  up(): Promise<string[]> {
    return migrateUp(this.#database.db);
  }

  /** Reverts the last migration; returns its name, or undefined when none was applied. */
  down(): Promise<string | undefined> {
    return migrateDown(this.#database.db);
  }

  status(): Promise<MigrationStatus[]> {
    return migrationStatus(this.#database.db);
  }
}
injectable(MigrationService, [TOKENS.Database]);
