// Secrets and grants on real Postgres: encryption at rest, wrong keys and tampering caught with
// coded errors, grants checked against declarations, and plans checked and loaded per job.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AtelierError, PluginRegistry, createPlan, definePlugin, z } from '@atelier/core';
import type { PluginContext } from '@atelier/core';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import {
  SecretsKey,
  checkGrant,
  checkPlanGrants,
  deleteSecret,
  listGrants,
  listSecrets,
  loadPlanGrants,
  saveGrant,
  saveSecret,
} from './plugin-grants.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(inject('pgAdminUrl'));
});
afterAll(() => t.drop());

const key = SecretsKey.parse(randomBytes(32).toString('base64'));
const VALUE = 'sk-live-ABCDEF0123456789-do-not-leak';

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(AtelierError);
    return (error as AtelierError).code;
  }
}

const base = {
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  description: 'x',
  params: z.object({}),
  apply: ({ image }: PluginContext<object>) => image,
} as const;
const registry = new PluginRegistry();
registry.register(
  definePlugin({
    ...base,
    id: 'acme:ai',
    name: 'AI',
    capabilities: { network: ['api.example.com'], secrets: ['ACME_KEY'] },
  }),
  { module: 'file:///nowhere.ts' },
);
registry.register(
  definePlugin({ ...base, id: 'acme:other', name: 'Other', capabilities: { secrets: ['OTHER_KEY'] } }),
  { module: 'file:///nowhere.ts' },
);
registry.register(definePlugin({ ...base, id: 'acme:plain', name: 'Plain' }), {
  module: 'file:///nowhere.ts',
});
const plan = (...ids: string[]) => createPlan(registry, { steps: ids.map((plugin) => ({ plugin })) });

describe('SecretsKey', () => {
  it('takes 32 bytes as base64, base64url or hex, and nothing else', () => {
    const bytes = randomBytes(32);
    const ids = [
      SecretsKey.parse(bytes.toString('base64')).id,
      SecretsKey.parse(bytes.toString('base64url')).id,
      SecretsKey.parse(bytes.toString('hex')).id,
      SecretsKey.parse(` ${bytes.toString('hex').toUpperCase()}\n`).id,
    ];
    expect(new Set(ids).size).toBe(1);
    for (const bad of [
      '',
      'short',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('hex'),
      'x'.repeat(44),
    ])
      expect(() => SecretsKey.parse(bad), bad).toThrow(
        expect.objectContaining({ code: 'SECRETS_KEY_MISSING' }),
      );
    expect(SecretsKey.fromEnv({})).toBeUndefined();
    expect(SecretsKey.fromEnv({ ATELIER_SECRETS_KEY: bytes.toString('hex') })?.id).toBe(ids[0]);
  });

  it('never prints the key', () => {
    const text = randomBytes(32).toString('hex');
    const k = SecretsKey.parse(text);
    for (const shown of [String(k), JSON.stringify({ k }), inspect(k), inspect({ k }, { depth: 5 })])
      expect(shown).not.toContain(text.slice(0, 16));
  });

  it('round-trips; another key is SECRETS_KEY_MISSING; any change is SECRET_CORRUPT', async () => {
    const sealed = key.seal('ACME_KEY', VALUE);
    expect(Buffer.from(sealed.ciphertext).toString('utf8')).not.toContain('do-not-leak');
    expect(key.open('ACME_KEY', sealed)).toBe(VALUE);
    expect(key.seal('ACME_KEY', VALUE).iv.equals(sealed.iv)).toBe(false);
    const other = SecretsKey.parse(randomBytes(32).toString('hex'));
    expect(await codeOf(() => other.open('ACME_KEY', sealed))).toBe('SECRETS_KEY_MISSING');
    // A row claiming this key's id but sealed with another one: the tag fails.
    const forged = { ...other.seal('ACME_KEY', VALUE), keyId: key.id };
    expect(await codeOf(() => key.open('ACME_KEY', forged))).toBe('SECRET_CORRUPT');
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] = flipped[0]! ^ 1;
    expect(await codeOf(() => key.open('ACME_KEY', { ...sealed, ciphertext: flipped }))).toBe(
      'SECRET_CORRUPT',
    );
    const tag = Buffer.from(sealed.authTag);
    tag[15] = tag[15]! ^ 0x80;
    expect(await codeOf(() => key.open('ACME_KEY', { ...sealed, authTag: tag }))).toBe('SECRET_CORRUPT');
    // The name is bound in: the same ciphertext under another name does not open.
    expect(await codeOf(() => key.open('OTHER_KEY', sealed))).toBe('SECRET_CORRUPT');
  });
});

describe('secrets in Postgres', () => {
  it('are stored encrypted and listed without values', async () => {
    expect(await saveSecret(t.db, key, { name: 'ACME_KEY', value: 'first', actorId: null })).toEqual({
      replaced: false,
    });
    expect(await saveSecret(t.db, key, { name: 'ACME_KEY', value: VALUE, actorId: null })).toEqual({
      replaced: true,
    });
    const dump = await sql<{ row: string }>`select row_to_json(s)::text as row from plugin_secrets s`.execute(
      t.db,
    );
    expect(dump.rows).toHaveLength(1);
    expect(dump.rows[0]!.row).not.toContain('do-not-leak');
    expect(dump.rows[0]!.row).not.toContain(Buffer.from(VALUE).toString('hex'));
    const list = await listSecrets(t.db);
    expect(list.map((s) => s.name)).toEqual(['ACME_KEY']);
    expect(JSON.stringify(list)).not.toContain('do-not-leak');
    expect(Object.keys(list[0]!).sort()).toEqual(['createdAt', 'name', 'updatedAt', 'updatedBy']);
  });

  it('refuses to store without a key, with a bad name or a bad value', async () => {
    expect(
      await codeOf(() => saveSecret(t.db, undefined, { name: 'X_KEY', value: 'v', actorId: null })),
    ).toBe('SECRETS_KEY_MISSING');
    expect(await codeOf(() => saveSecret(t.db, key, { name: 'lower', value: 'v', actorId: null }))).toBe(
      'PARAMS_INVALID',
    );
    expect(await codeOf(() => saveSecret(t.db, key, { name: 'X_KEY', value: '', actorId: null }))).toBe(
      'PARAMS_INVALID',
    );
    expect(
      await codeOf(() => saveSecret(t.db, key, { name: 'X_KEY', value: 'v'.repeat(20_000), actorId: null })),
    ).toBe('PARAMS_INVALID');
    expect((await listSecrets(t.db)).map((s) => s.name)).toEqual(['ACME_KEY']);
  });

  it('delete says SECRET_NOT_FOUND for an unknown name', async () => {
    await saveSecret(t.db, key, { name: 'TEMP_KEY', value: 'v', actorId: null });
    await deleteSecret(t.db, 'TEMP_KEY');
    expect(await codeOf(() => deleteSecret(t.db, 'TEMP_KEY'))).toBe('SECRET_NOT_FOUND');
  });
});

describe('grants', () => {
  it('only what the plugin declares can be granted', async () => {
    const caps = registry.get('acme:ai').capabilities;
    expect(
      await codeOf(() => checkGrant('acme:ai', caps, { network: ['evil.example.com'], secrets: [] })),
    ).toBe('CAPABILITY_DENIED');
    expect(await codeOf(() => checkGrant('acme:ai', caps, { network: [], secrets: ['DATABASE_URL'] }))).toBe(
      'CAPABILITY_DENIED',
    );
    expect(await codeOf(() => checkGrant('acme:ai', caps, { network: ['Not A Host'], secrets: [] }))).toBe(
      'PARAMS_INVALID',
    );
    expect(
      await codeOf(() =>
        checkGrant('acme:ai', caps, { network: ['api.example.com'], secrets: ['ACME_KEY'] }),
      ),
    ).toBe('ok');
  });

  it('a plan is refused until everything its plugins declare is granted and set', async () => {
    expect(await codeOf(() => checkPlanGrants(t.db, registry, plan('acme:plain')))).toBe('ok');
    expect(await loadPlanGrants(t.db, undefined, registry, plan('acme:plain'))).toEqual({});
    const refused = await checkPlanGrants(t.db, registry, plan('acme:plain', 'acme:ai')).catch(
      (e: AtelierError) => e,
    );
    expect(refused).toMatchObject({
      code: 'CAPABILITY_NOT_GRANTED',
      details: { plugin: 'acme:ai', missingNetwork: ['api.example.com'], missingSecrets: ['ACME_KEY'] },
    });
    await saveGrant(t.db, { pluginId: 'acme:ai', network: ['api.example.com'], secrets: [], actorId: null });
    expect(
      await checkPlanGrants(t.db, registry, plan('acme:ai')).catch((e: AtelierError) => e.details),
    ).toMatchObject({ missingNetwork: [], missingSecrets: ['ACME_KEY'] });
    await saveGrant(t.db, {
      pluginId: 'acme:ai',
      network: ['api.example.com'],
      secrets: ['ACME_KEY'],
      actorId: null,
    });
    expect(await codeOf(() => checkPlanGrants(t.db, registry, plan('acme:ai')))).toBe('ok');
    // Granted, not set: SECRET_NOT_FOUND.
    await saveGrant(t.db, { pluginId: 'acme:other', network: [], secrets: ['OTHER_KEY'], actorId: null });
    expect(await codeOf(() => checkPlanGrants(t.db, registry, plan('acme:other')))).toBe('SECRET_NOT_FOUND');
    expect((await listGrants(t.db)).map((g) => g.pluginId)).toEqual(['acme:ai', 'acme:other']);
  });

  it('loads grants with decrypted secrets, each plugin only its own', async () => {
    await saveSecret(t.db, key, { name: 'OTHER_KEY', value: 'other-value', actorId: null });
    const grants = await loadPlanGrants(t.db, key, registry, plan('acme:ai', 'acme:plain'));
    expect(grants).toEqual({ 'acme:ai': { network: ['api.example.com'], secrets: { ACME_KEY: VALUE } } });
    const both = await loadPlanGrants(t.db, key, registry, plan('acme:ai', 'acme:other'));
    expect(both['acme:other']).toEqual({ network: [], secrets: { OTHER_KEY: 'other-value' } });
    expect(await codeOf(() => loadPlanGrants(t.db, undefined, registry, plan('acme:ai')))).toBe(
      'SECRETS_KEY_MISSING',
    );
    const wrong = SecretsKey.parse(randomBytes(32).toString('hex'));
    expect(await codeOf(() => loadPlanGrants(t.db, wrong, registry, plan('acme:ai')))).toBe(
      'SECRETS_KEY_MISSING',
    );
  });

  it('a row changed in the database is SECRET_CORRUPT', async () => {
    await sql`update plugin_secrets set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) where name = 'OTHER_KEY'`.execute(
      t.db,
    );
    expect(await codeOf(() => loadPlanGrants(t.db, key, registry, plan('acme:other')))).toBe(
      'SECRET_CORRUPT',
    );
    // Moving a ciphertext under another name does not open either.
    await sql`update plugin_secrets set (ciphertext, iv, auth_tag) = (select ciphertext, iv, auth_tag from plugin_secrets where name = 'ACME_KEY') where name = 'OTHER_KEY'`.execute(
      t.db,
    );
    expect(await codeOf(() => loadPlanGrants(t.db, key, registry, plan('acme:other')))).toBe(
      'SECRET_CORRUPT',
    );
  });

  it('empty grant lists revoke', async () => {
    await saveGrant(t.db, { pluginId: 'acme:ai', network: [], secrets: [], actorId: null });
    expect(await codeOf(() => checkPlanGrants(t.db, registry, plan('acme:ai')))).toBe(
      'CAPABILITY_NOT_GRANTED',
    );
  });
});
