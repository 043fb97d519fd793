import type { User, UserRole } from '@atelier/db';

/** A user as services and the API return it: plain data, never the row (no password hash). */
export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly role: UserRole;
  readonly createdAt: Date;
  /** True while an administrator has the account disabled: it cannot sign in. */
  readonly disabled: boolean;
}

/** The columns {@link toUserRecord} reads: select these, not `password_hash`, when a record is all you need. */
export const USER_RECORD_COLUMNS = [
  'id',
  'email',
  'display_name',
  'role',
  'created_at',
  'disabled_at',
] as const;

export function toUserRecord(
  row: Pick<User, 'id' | 'email' | 'display_name' | 'role' | 'created_at' | 'disabled_at'>,
): UserRecord {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: row.role,
    createdAt: row.created_at,
    disabled: row.disabled_at !== null,
  };
}
