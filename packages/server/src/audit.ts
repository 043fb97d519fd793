import type { Kysely } from 'kysely';
import type { Database } from '@atelier/db';

/** Who acts: the administrator and the request, recorded with every action in the audit log. */
export interface Actor {
  readonly id: string;
  readonly requestId: string;
}

/**
 * Records an action in the audit log (in `db`, which may be the action's transaction). `actor` is
 * null for what no signed-in person did: a Stripe webhook, or the CLI on the server's machine
 * (`details.via` says which).
 */
export async function audit(
  db: Kysely<Database>,
  actor: Actor | null,
  action: string,
  target: { readonly type: string; readonly id: string | null },
  details: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor_id: actor?.id ?? null,
      action,
      target_type: target.type,
      target_id: target.id,
      details: JSON.stringify(actor ? { ...details, requestId: actor.requestId } : details),
    })
    .execute();
}
