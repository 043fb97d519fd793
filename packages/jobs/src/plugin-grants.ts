// Secrets and grants in Postgres: what administrators granted each plugin, and the secret values,
// encrypted at rest. Read per job (no cache), so a grant or a revoke reaches every process at once.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Kysely } from 'kysely';
import {
  AtelierError,
  SECRET_NAME_PATTERN,
  missingGrants,
  networkHostProblem,
  notGrantedError,
} from '@atelier/core';
import type { Plan, PluginCapabilities, PluginGrants, PluginRegistry } from '@atelier/core';
import type { Database } from '@atelier/db';

/** The longest secret value accepted, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 16 * 1024;

const ALGORITHM = 'aes-256-gcm';

function keyMissing(why: string): AtelierError {
  return new AtelierError(
    'SECRETS_KEY_MISSING',
    `${why} Set ATELIER_SECRETS_KEY to 32 random bytes, base64 or hex (openssl rand -base64 32), the same on every process.`,
  );
}

/**
 * The key secrets are sealed with: 32 bytes from `ATELIER_SECRETS_KEY`. It never prints itself
 * (`toString`, `toJSON` and `util.inspect` show only its id).
 *
 * @example
 * const key = SecretsKey.fromEnv(); // undefined when ATELIER_SECRETS_KEY is not set
 */
export class SecretsKey {
  readonly #bytes: Buffer;
  /** A hash of the key (not the key): stored with each secret to tell a wrong key from a damaged row. */
  readonly id: string;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
    this.id = createHash('sha256')
      .update('atelier-secrets-key-id\0')
      .update(bytes)
      .digest('hex')
      .slice(0, 16);
  }

  /**
   * Parses 32 bytes written as 64 hex digits or as base64 (standard or URL-safe). Throws
   * `SECRETS_KEY_MISSING` for anything else.
   */
  static parse(text: string): SecretsKey {
    const trimmed = text.trim();
    let bytes: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
    if (bytes?.length !== 32) {
      throw keyMissing('ATELIER_SECRETS_KEY is malformed: it must be 32 bytes, as 64 hex digits or base64.');
    }
    return new SecretsKey(bytes);
  }

  /** The key from `ATELIER_SECRETS_KEY`, or undefined when it is unset or empty; malformed throws. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SecretsKey | undefined {
    const text = env['ATELIER_SECRETS_KEY'];
    return text === undefined || text.trim() === '' ? undefined : SecretsKey.parse(text);
  }

  /** Encrypts `value` for the secret `name` (bound to it: the ciphertext opens under no other name). */
  seal(name: string, value: string): { ciphertext: Buffer; iv: Buffer; authTag: Buffer; keyId: string } {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, this.#bytes, iv);
    cipher.setAAD(aad(name));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return { ciphertext, iv, authTag: cipher.getAuthTag(), keyId: this.id };
  }

  /**
   * Decrypts a stored secret. `SECRETS_KEY_MISSING` when it was sealed with another key,
   * `SECRET_CORRUPT` when it fails its integrity check (changed, or moved under another name).
   */
  open(
    name: string,
    sealed: {
      readonly ciphertext: Uint8Array;
      readonly iv: Uint8Array;
      readonly authTag: Uint8Array;
      readonly keyId: string;
    },
  ): string {
    if (sealed.keyId !== this.id) {
      throw keyMissing(
        `The secret ${name} was stored with another ATELIER_SECRETS_KEY than this process has.`,
      );
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#bytes, sealed.iv);
      decipher.setAAD(aad(name));
      decipher.setAuthTag(sealed.authTag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new AtelierError('SECRET_CORRUPT', `The stored secret ${name} failed its integrity check.`, {
        cause: error,
        details: { secret: name },
      });
    }
  }

  toString(): string {
    return `SecretsKey(${this.id})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function aad(name: string): Buffer {
  return Buffer.from(`atelier-secret:v1:${name}`, 'utf8');
}

/** A stored secret as lists show it: never its value. */
export interface SecretInfo {
  readonly name: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The administrator who last set it; null when set from the command line. */
  readonly updatedBy: string | null;
}

/** What an administrator granted a plugin. */
export interface PluginGrantRecord {
  readonly pluginId: string;
  readonly network: readonly string[];
  readonly secrets: readonly string[];
  readonly grantedBy: string | null;
  readonly grantedAt: Date;
}

function checkSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new AtelierError(
      'PARAMS_INVALID',
      `"${name}" is not a secret name: capital letters, digits and "_", starting with a letter, at most 64.`,
      { details: { issues: [{ path: ['name'], message: `must match ${SECRET_NAME_PATTERN.source}` }] } },
    );
  }
}

/**
 * Stores (or replaces) a secret, encrypted with `key`. Throws `SECRETS_KEY_MISSING` without a
 * key, `PARAMS_INVALID` for a bad name or an empty or oversized value. Returns whether a secret
 * of this name existed before.
 */
export async function saveSecret(
  db: Kysely<Database>,
  key: SecretsKey | undefined,
  args: { readonly name: string; readonly value: string; readonly actorId: string | null },
): Promise<{ replaced: boolean }> {
  checkSecretName(args.name);
  if (!key) throw keyMissing('Secrets cannot be stored: ATELIER_SECRETS_KEY is not set.');
  if (args.value === '' || Buffer.byteLength(args.value, 'utf8') > MAX_SECRET_BYTES) {
    throw new AtelierError('PARAMS_INVALID', `A secret value is 1 to ${MAX_SECRET_BYTES} bytes.`, {
      details: { issues: [{ path: ['value'], message: `1 to ${MAX_SECRET_BYTES} bytes` }] },
    });
  }
  const sealed = key.seal(args.name, args.value);
  const now = new Date();
  const row = {
    ciphertext: sealed.ciphertext,
    iv: sealed.iv,
    auth_tag: sealed.authTag,
    key_id: sealed.keyId,
    updated_at: now,
    updated_by: args.actorId,
  };
  const existed = await db
    .selectFrom('plugin_secrets')
    .select('name')
    .where('name', '=', args.name)
    .forUpdate()
    .executeTakeFirst();
  await db
    .insertInto('plugin_secrets')
    .values({ name: args.name, ...row })
    .onConflict((oc) => oc.column('name').doUpdateSet(row))
    .execute();
  return { replaced: existed !== undefined };
}

/** Deletes a secret. `SECRET_NOT_FOUND` when there is none of this name. */
export async function deleteSecret(db: Kysely<Database>, name: string): Promise<void> {
  const deleted = await db.deleteFrom('plugin_secrets').where('name', '=', name).executeTakeFirst();
  if (deleted.numDeletedRows === 0n) {
    throw new AtelierError('SECRET_NOT_FOUND', `No secret is named ${name}.`, { details: { secret: name } });
  }
}

/** Every stored secret's name and dates, by name. Never a value. */
export async function listSecrets(db: Kysely<Database>): Promise<SecretInfo[]> {
  const rows = await db
    .selectFrom('plugin_secrets')
    .select(['name', 'created_at', 'updated_at', 'updated_by'])
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    name: r.name,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  }));
}

/**
 * Checks a grant against what the plugin declares: every host and secret must be declared
 * (`CAPABILITY_DENIED` naming the first that is not; `PARAMS_INVALID` for a malformed entry).
 */
export function checkGrant(
  pluginId: string,
  capabilities: PluginCapabilities | undefined,
  grant: { readonly network: readonly string[]; readonly secrets: readonly string[] },
): void {
  for (const host of grant.network) {
    const problem = networkHostProblem(host);
    if (problem) {
      throw new AtelierError('PARAMS_INVALID', problem, {
        details: { issues: [{ path: ['network'], message: problem }] },
      });
    }
    if (!(capabilities?.network ?? []).includes(host)) {
      throw new AtelierError(
        'CAPABILITY_DENIED',
        `Plugin "${pluginId}" does not declare the host ${host}; only what a plugin declares can be granted (it declares: ${(capabilities?.network ?? []).join(', ') || 'no hosts'}).`,
        { details: { plugin: pluginId, host, reason: 'not-declared' } },
      );
    }
  }
  for (const name of grant.secrets) {
    checkSecretName(name);
    if (!(capabilities?.secrets ?? []).includes(name)) {
      throw new AtelierError(
        'CAPABILITY_DENIED',
        `Plugin "${pluginId}" does not declare the secret ${name}; only what a plugin declares can be granted (it declares: ${(capabilities?.secrets ?? []).join(', ') || 'no secrets'}).`,
        { details: { plugin: pluginId, secret: name, reason: 'not-declared' } },
      );
    }
  }
}

/**
 * Sets what a plugin is granted (replacing the previous grant; empty lists delete it). The
 * caller checks it against the plugin's declaration first ({@link checkGrant}).
 */
export async function saveGrant(
  db: Kysely<Database>,
  args: {
    readonly pluginId: string;
    readonly network: readonly string[];
    readonly secrets: readonly string[];
    readonly actorId: string | null;
  },
): Promise<PluginGrantRecord | undefined> {
  const network = [...new Set(args.network)].sort();
  const secrets = [...new Set(args.secrets)].sort();
  if (network.length === 0 && secrets.length === 0) {
    await db.deleteFrom('plugin_grants').where('plugin_id', '=', args.pluginId).execute();
    return undefined;
  }
  const now = new Date();
  await db
    .insertInto('plugin_grants')
    .values({ plugin_id: args.pluginId, network, secrets, granted_by: args.actorId, granted_at: now })
    .onConflict((oc) =>
      oc.column('plugin_id').doUpdateSet({ network, secrets, granted_by: args.actorId, granted_at: now }),
    )
    .execute();
  return { pluginId: args.pluginId, network, secrets, grantedBy: args.actorId, grantedAt: now };
}

/** Every grant, by plugin id. */
export async function listGrants(db: Kysely<Database>): Promise<PluginGrantRecord[]> {
  const rows = await db.selectFrom('plugin_grants').selectAll().orderBy('plugin_id').execute();
  return rows.map((r) => ({
    pluginId: r.plugin_id,
    network: r.network,
    secrets: r.secrets,
    grantedBy: r.granted_by,
    grantedAt: r.granted_at,
  }));
}

/** The plugins of a plan that declare capabilities, with their declarations. */
function needing(registry: PluginRegistry, plan: Plan): Map<string, PluginCapabilities> {
  const out = new Map<string, PluginCapabilities>();
  for (const step of plan.steps) {
    const capabilities = registry.get(step.plugin).capabilities;
    if (capabilities && ((capabilities.network?.length ?? 0) > 0 || (capabilities.secrets?.length ?? 0) > 0))
      out.set(step.plugin, capabilities);
  }
  return out;
}

async function grantRows(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, { network: string[]; secrets: string[] }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('plugin_grants')
    .select(['plugin_id', 'network', 'secrets'])
    .where('plugin_id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.plugin_id, { network: r.network, secrets: r.secrets }]));
}

/**
 * Refuses a plan whose plugins declare capabilities not all granted (`CAPABILITY_NOT_GRANTED`,
 * naming what is missing) or whose granted secrets are not set (`SECRET_NOT_FOUND`). For
 * `jobs.create`: nothing is decrypted.
 */
export async function checkPlanGrants(
  db: Kysely<Database>,
  registry: PluginRegistry,
  plan: Plan,
): Promise<void> {
  const need = needing(registry, plan);
  const rows = await grantRows(db, [...need.keys()]);
  const wanted = new Set<string>();
  for (const [id, capabilities] of need) {
    const row = rows.get(id);
    const granted: PluginGrants = {
      network: row?.network ?? [],
      secrets: Object.fromEntries((row?.secrets ?? []).map((s) => [s, ''])),
    };
    const missing = missingGrants(capabilities, granted);
    if (missing.network.length > 0 || missing.secrets.length > 0) throw notGrantedError(id, missing);
    for (const s of capabilities.secrets ?? []) wanted.add(s);
  }
  if (wanted.size === 0) return;
  const stored = new Set(
    (
      await db
        .selectFrom('plugin_secrets')
        .select('name')
        .where('name', 'in', [...wanted])
        .execute()
    ).map((r) => r.name),
  );
  const unset = [...wanted].filter((s) => !stored.has(s));
  if (unset.length > 0) {
    throw new AtelierError(
      'SECRET_NOT_FOUND',
      `The secret${unset.length > 1 ? 's' : ''} ${unset.join(', ')} ${unset.length > 1 ? 'are' : 'is'} granted but not set; set ${unset.length > 1 ? 'them' : 'it'} with \`atelier secrets set\`.`,
      { details: { secrets: unset } },
    );
  }
}

/**
 * What `Engine.run` needs as `grants` for `plan`: for each plugin that declares capabilities, the
 * granted hosts and the granted secrets, decrypted with `key`. Throws as {@link checkPlanGrants},
 * and `SECRETS_KEY_MISSING` / `SECRET_CORRUPT` when a secret cannot be opened. Only the secrets
 * the plan's plugins declare and were granted are decrypted.
 */
export async function loadPlanGrants(
  db: Kysely<Database>,
  key: SecretsKey | undefined,
  registry: PluginRegistry,
  plan: Plan,
): Promise<Record<string, PluginGrants>> {
  const need = needing(registry, plan);
  if (need.size === 0) return {};
  await checkPlanGrants(db, registry, plan);
  const rows = await grantRows(db, [...need.keys()]);
  const names = new Set([...need.values()].flatMap((c) => c.secrets ?? []));
  if (names.size > 0 && !key)
    throw keyMissing('This job needs a secret, and ATELIER_SECRETS_KEY is not set.');
  const sealed =
    names.size === 0
      ? []
      : await db
          .selectFrom('plugin_secrets')
          .selectAll()
          .where('name', 'in', [...names])
          .execute();
  const values = new Map<string, string>();
  for (const row of sealed)
    values.set(
      row.name,
      key!.open(row.name, {
        ciphertext: row.ciphertext,
        iv: row.iv,
        authTag: row.auth_tag,
        keyId: row.key_id,
      }),
    );
  const out: Record<string, PluginGrants> = {};
  for (const [id, capabilities] of need) {
    const row = rows.get(id)!;
    const declaredSecrets = capabilities.secrets ?? [];
    out[id] = {
      network: row.network.filter((h) => (capabilities.network ?? []).includes(h)),
      secrets: Object.fromEntries(
        row.secrets
          .filter((s) => declaredSecrets.includes(s) && values.has(s))
          .map((s) => [s, values.get(s)!]),
      ),
    };
  }
  return out;
}
