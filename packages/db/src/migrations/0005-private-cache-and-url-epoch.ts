import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// The result cache becomes per owner: a hit told a user that someone else had already rendered
// that photo with that plan. Entries of different owners may point at one stored file (results are
// content-addressed); a file goes only when no image, job or entry refers to it. Existing entries
// are kept for each owner whose succeeded job holds that output, and dropped otherwise.
//
// users.session_epoch: signed download URLs sign it, and signing out everywhere (password change,
// disabling) bumps it, so every URL handed out before stops working.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('results')
    .addColumn('owner_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .execute();
  await db.schema.alterTable('results').dropConstraint('results_pkey').execute();
  await sql`
    insert into results (owner_id, plan_hash, input_sha256, output_key, bytes, width, height, format, created_at)
    select distinct jobs.owner_id, results.plan_hash, results.input_sha256, results.output_key,
      results.bytes, results.width, results.height, results.format, results.created_at
    from results
    join jobs on jobs.output_key = results.output_key and jobs.plan_hash = results.plan_hash
      and jobs.input_sha256 = results.input_sha256 and jobs.status = 'succeeded'
    where results.owner_id is null`.execute(db);
  await sql`delete from results where owner_id is null`.execute(db);
  await sql`alter table results alter column owner_id set not null`.execute(db);
  // The lookup at submission and at claim: one owner's entry for a plan and an input.
  await db.schema
    .alterTable('results')
    .addPrimaryKeyConstraint('results_pkey', ['owner_id', 'plan_hash', 'input_sha256'])
    .execute();

  await db.schema
    .alterTable('users')
    .addColumn('session_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('session_epoch').execute();
  await db.schema.alterTable('results').dropConstraint('results_pkey').execute();
  // One entry per plan and input again: keep the oldest of the owners' copies.
  await sql`
    delete from results a using results b
    where a.plan_hash = b.plan_hash and a.input_sha256 = b.input_sha256
      and (a.created_at, a.owner_id) > (b.created_at, b.owner_id)`.execute(db);
  await db.schema.alterTable('results').dropColumn('owner_id').execute();
  await db.schema
    .alterTable('results')
    .addPrimaryKeyConstraint('results_pkey', ['plan_hash', 'input_sha256'])
    .execute();
}
