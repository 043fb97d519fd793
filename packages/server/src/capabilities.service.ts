// What administrators grant plugins (hosts, secrets) and the secrets themselves: one service for
// the admin API, the web console and the CLI, every change audited. No method returns a secret's
// value; values are decrypted only by the render worker, for a job of a plugin granted them.
import type { Kysely } from 'kysely';
import type { PluginRegistry } from '@atelier/core';
import type { Database, DatabaseHandle } from '@atelier/db';
import {
  SecretsKey,
  checkGrant,
  deleteSecret,
  listGrants,
  listSecrets,
  saveGrant,
  saveSecret,
} from '@atelier/jobs';
import type { PluginGrantRecord, SecretInfo } from '@atelier/jobs';
import { audit } from './audit.ts';
import type { Actor } from './audit.ts';
import type { AtelierConfig } from './config.ts';
import { TOKENS, injectable } from './tokens.ts';

/** One plugin's capabilities as the admin console shows them: asked for, granted, missing. */
export interface PluginCapabilityView {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** What the plugin declares. */
  readonly requested: { readonly network: readonly string[]; readonly secrets: readonly string[] };
  /** What an administrator granted (always within `requested`). */
  readonly granted: { readonly network: readonly string[]; readonly secrets: readonly string[] };
  /** Requested and not granted: while not empty, jobs for the plugin are refused (`CAPABILITY_NOT_GRANTED`). */
  readonly missing: { readonly network: readonly string[]; readonly secrets: readonly string[] };
  /** Granted secrets with no value stored yet (`atelier secrets set`). */
  readonly unsetSecrets: readonly string[];
  readonly grantedAt: string | null;
  readonly grantedBy: string | null;
}

/** A stored secret as lists show it: its name and dates, never its value. */
export interface SecretView {
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly updatedBy: string | null;
}

/** Who made a change from the command line: no signed-in person (`details.via: 'cli'`). */
export const CLI_ACTOR = null;

const secretView = (s: SecretInfo): SecretView => ({
  name: s.name,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
  updatedBy: s.updatedBy,
});

/**
 * Grants, revokes and secrets. Grants are checked against what the plugin declares
 * (`CAPABILITY_DENIED` for an undeclared host or secret); every change is written to the audit log
 * in the same transaction, and read by workers per job, so it counts on every process at once.
 */
export class CapabilitiesService {
  readonly #db: Kysely<Database>;
  readonly #registry: PluginRegistry;
  readonly #key: SecretsKey | undefined;

  constructor(database: DatabaseHandle, registry: PluginRegistry, config: AtelierConfig) {
    this.#db = database.db;
    this.#registry = registry;
    this.#key = config.secretsKey === undefined ? undefined : SecretsKey.parse(config.secretsKey);
  }

  /** Every plugin that declares capabilities (or holds a grant), with what it asks and was granted. */
  async plugins(): Promise<PluginCapabilityView[]> {
    const grants = new Map((await listGrants(this.#db)).map((g) => [g.pluginId, g]));
    const stored = new Set((await listSecrets(this.#db)).map((s) => s.name));
    return this.#registry
      .list({ includeDisabled: true })
      .filter(
        (p) => p.capabilities.network.length > 0 || p.capabilities.secrets.length > 0 || grants.has(p.id),
      )
      .map((p) => this.#view(p.id, grants.get(p.id), stored));
  }

  /** One plugin's view. `PLUGIN_NOT_FOUND` for an unknown id. */
  async plugin(id: string): Promise<PluginCapabilityView> {
    this.#registry.get(id); // PLUGIN_NOT_FOUND
    const grant = (await listGrants(this.#db)).find((g) => g.pluginId === id);
    const stored = new Set((await listSecrets(this.#db)).map((s) => s.name));
    return this.#view(id, grant, stored);
  }

  #view(id: string, grant: PluginGrantRecord | undefined, stored: ReadonlySet<string>): PluginCapabilityView {
    const info = this.#registry.describe(id);
    const requested = info.capabilities;
    const granted = {
      network: (grant?.network ?? []).filter((h) => requested.network.includes(h)),
      secrets: (grant?.secrets ?? []).filter((s) => requested.secrets.includes(s)),
    };
    return {
      id,
      name: info.name,
      enabled: info.enabled,
      requested,
      granted,
      missing: {
        network: requested.network.filter((h) => !granted.network.includes(h)),
        secrets: requested.secrets.filter((s) => !granted.secrets.includes(s)),
      },
      unsetSecrets: granted.secrets.filter((s) => !stored.has(s)),
      grantedAt: grant?.grantedAt.toISOString() ?? null,
      grantedBy: grant?.grantedBy ?? null,
    };
  }

  /**
   * Sets exactly what `id` is granted (replacing the previous grant; empty lists revoke all).
   * `PLUGIN_NOT_FOUND`, `CAPABILITY_DENIED` (not declared), `PARAMS_INVALID` (malformed).
   */
  async setGrant(
    actor: Actor | null,
    input: { readonly id: string; readonly network: readonly string[]; readonly secrets: readonly string[] },
  ): Promise<PluginCapabilityView> {
    const plugin = this.#registry.get(input.id); // PLUGIN_NOT_FOUND
    checkGrant(input.id, plugin.capabilities, input);
    await this.#db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('plugin_grants')
        .select(['network', 'secrets'])
        .where('plugin_id', '=', input.id)
        .forUpdate()
        .executeTakeFirst();
      const saved = await saveGrant(trx, {
        pluginId: input.id,
        network: input.network,
        secrets: input.secrets,
        actorId: actor?.id ?? null,
      });
      await audit(
        trx,
        actor,
        saved ? 'plugin.grant' : 'plugin.revoke',
        { type: 'plugin', id: input.id },
        {
          network: saved?.network ?? [],
          secrets: saved?.secrets ?? [],
          before: { network: before?.network ?? [], secrets: before?.secrets ?? [] },
          ...(actor ? {} : { via: 'cli' }),
        },
      );
    });
    return this.plugin(input.id);
  }

  /** Adds hosts and secrets to what `id` is granted (the CLI's `plugins grant`). */
  async grant(
    actor: Actor | null,
    input: { readonly id: string; readonly network: readonly string[]; readonly secrets: readonly string[] },
  ): Promise<PluginCapabilityView> {
    const current = await this.plugin(input.id);
    return this.setGrant(actor, {
      id: input.id,
      network: [...current.granted.network, ...input.network],
      secrets: [...current.granted.secrets, ...input.secrets],
    });
  }

  /**
   * Takes hosts and secrets back from `id` (the CLI's `plugins revoke`); with neither list given,
   * everything it was granted.
   */
  async revoke(
    actor: Actor | null,
    input: {
      readonly id: string;
      readonly network?: readonly string[];
      readonly secrets?: readonly string[];
    },
  ): Promise<PluginCapabilityView> {
    const current = await this.plugin(input.id);
    const all = input.network === undefined && input.secrets === undefined;
    return this.setGrant(actor, {
      id: input.id,
      network: all ? [] : current.granted.network.filter((h) => !(input.network ?? []).includes(h)),
      secrets: all ? [] : current.granted.secrets.filter((s) => !(input.secrets ?? []).includes(s)),
    });
  }

  /** Stored secrets: names and dates only. */
  async secrets(): Promise<SecretView[]> {
    return (await listSecrets(this.#db)).map(secretView);
  }

  /**
   * Stores or replaces a secret, encrypted. `SECRETS_KEY_MISSING` without `ATELIER_SECRETS_KEY`,
   * `PARAMS_INVALID` for a bad name or value. The audit log records the name, never the value.
   */
  async setSecret(actor: Actor | null, name: string, value: string): Promise<SecretView> {
    await this.#db.transaction().execute(async (trx) => {
      const { replaced } = await saveSecret(trx, this.#key, { name, value, actorId: actor?.id ?? null });
      await audit(
        trx,
        actor,
        'secret.set',
        { type: 'secret', id: name },
        {
          replaced,
          ...(actor ? {} : { via: 'cli' }),
        },
      );
    });
    const stored = (await listSecrets(this.#db)).find((s) => s.name === name)!;
    return secretView(stored);
  }

  /** Deletes a secret. `SECRET_NOT_FOUND` when there is none. Grants naming it stay (and jobs then fail). */
  async removeSecret(actor: Actor | null, name: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await deleteSecret(trx, name);
      await audit(trx, actor, 'secret.remove', { type: 'secret', id: name }, actor ? {} : { via: 'cli' });
    });
  }
}
injectable(CapabilitiesService, [TOKENS.Database, TOKENS.PluginRegistry, TOKENS.Config]);
