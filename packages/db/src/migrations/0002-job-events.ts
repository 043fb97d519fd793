import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Every change of a job's status or progress is published on the channel atelier_job_events by
// the database itself, at commit: no code path can forget to, and it costs no extra round trip.
// The payload's shape is JobEvent (packages/jobs/src/events.ts); eventOf() builds the same from a row.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function atelier_job_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('atelier_job_events', json_strip_nulls(json_build_object(
        'id', new.id,
        'ownerId', new.owner_id,
        'status', new.status,
        'progress', new.progress,
        'style', new.style,
        'seq', floor(extract(epoch from new.updated_at) * 1000)::bigint,
        'errorCode', new.error_code,
        'fromCache', case when new.from_cache then true end,
        'at', to_char(new.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      ))::text);
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger jobs_notify_insert after insert on jobs
    for each row execute function atelier_job_notify()`.execute(db);
  await sql`
    create trigger jobs_notify_update after update on jobs
    for each row when (old.status is distinct from new.status or old.progress is distinct from new.progress)
    execute function atelier_job_notify()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists jobs_notify_update on jobs`.execute(db);
  await sql`drop trigger if exists jobs_notify_insert on jobs`.execute(db);
  await sql`drop function if exists atelier_job_notify()`.execute(db);
}
