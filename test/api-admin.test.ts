// Administration and statistics over HTTP: roles, plugin state on every process within a second,
// users, the queue, failed jobs, the audit log, and chart-shaped stats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { createApiServices, openServices, readConfig } from '@atelier/server';
import type { Services } from '@atelier/server';
import { photo, read, testPluginDir } from './helpers.ts';
import { codeOf, failure, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { eventually } from './jobs-harness.ts';

let h: ApiHarness;
let admin: AtelierClient;
let rootToken: string;
let user: { client: AtelierClient; token: string; userId: string };
let imageId: string;

beforeAll(async () => {
  h = await startApi();
  const root = await h.signUp('root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root.client;
  rootToken = root.token;
  user = await h.signUp('user@example.org', 'ordinary password');
  imageId = (
    await user.client.images.upload.mutate(
      uploadForm(new Blob([await read(photo('coffee.png'))]), 'coffee.png'),
    )
  ).id;
});
afterAll(() => h.close());

describe('admin', () => {
  it('is refused to ordinary users', async () => {
    expect(await codeOf(user.client.admin.plugins.query())).toBe('FORBIDDEN');
    expect(await codeOf(user.client.stats.global.query())).toBe('FORBIDDEN');
  });

  it('disables a plugin and sets its defaults on every process within a second', async () => {
    // A second process on the same database: another API with its own registry and worker.
    const other: Services = await openServices(
      readConfig(
        {
          DATABASE_URL: h.database.url,
          ATELIER_PLUGIN_DIR: testPluginDir,
          ATELIER_STORAGE_DIR: `${h.core.config.dataDir}/storage`,
        },
        h.core.config.root,
      ),
      {},
    );
    const otherApi = await createApiServices(other, {});
    try {
      const started = Date.now();
      await admin.admin.setPlugin.mutate({ id: 'sketch', enabled: false });
      await eventually(
        async () => !other.registry.isEnabled('sketch') || undefined,
        1000,
        'the other process to see it',
      );
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await codeOf(user.client.jobs.create.mutate({ imageId, style: 'sketch' }))).toBe('FORBIDDEN');
      expect((await user.client.styles.list.query()).map((s) => s.id)).not.toContain('sketch');

      await admin.admin.setPlugin.mutate({ id: 'sketch', enabled: true, defaults: { contrast: 0.8 } });
      await eventually(
        async () =>
          (other.registry.isEnabled('sketch') && other.registry.overrides('sketch')['contrast'] === 0.8) ||
          undefined,
        1000,
        'defaults',
      );
      expect(
        await codeOf(admin.admin.setPlugin.mutate({ id: 'sketch', defaults: { contrast: 'high' } })),
      ).toBe('BAD_REQUEST');
      expect(await codeOf(admin.admin.setPlugin.mutate({ id: 'nope', enabled: false }))).toBe('NOT_FOUND');
      const plugins = await admin.admin.plugins.query();
      expect(plugins.find((p) => p.id === 'sketch')).toMatchObject({ enabled: true, builtin: true });
      // The schema comes with it, so a console can edit a disabled plugin's defaults.
      expect(plugins.find((p) => p.id === 'sketch')?.paramsSchema).toMatchObject({
        type: 'object',
        properties: { contrast: { type: 'number', minimum: 0, maximum: 1 } },
      });
    } finally {
      await otherApi.close();
      await other.close();
    }
  });

  it('lists and disables users, which ends their sessions', async () => {
    const victim = await h.signUp('victim@example.org', 'victim password');
    const users = await admin.admin.users.query({});
    expect(users.map((u) => u.email)).toEqual(
      expect.arrayContaining(['root@example.org', 'user@example.org', 'victim@example.org']),
    );
    await admin.admin.setUserDisabled.mutate({ id: victim.userId, disabled: true });
    expect(await codeOf(victim.client.users.me.query())).toBe('UNAUTHORIZED');
    expect(
      await codeOf(
        h.client().auth.login.mutate({ email: 'victim@example.org', password: 'victim password' }),
      ),
    ).toBe('FORBIDDEN');
  });

  it('gives and takes the admin role, never from the last enabled administrator, and audits it', async () => {
    const deputy = await h.signUp('deputy@example.org', 'deputy password');
    const rootId = (await admin.users.me.query()).id;
    const listed = async (id: string) =>
      (await admin.admin.users.query({ limit: 200 })).find((u) => u.id === id);
    expect(await listed(deputy.userId)).toMatchObject({ role: 'user', disabled: false });
    expect(await listed(rootId)).toMatchObject({ role: 'admin', disabled: false });

    // The only administrator cannot step down.
    expect(await failure(admin.admin.setUserRole.mutate({ id: rootId, role: 'user' }))).toMatchObject({
      code: 'CONFLICT',
      httpStatus: 409,
      atelierCode: 'LAST_ADMIN',
    });
    expect(await codeOf(deputy.client.admin.plugins.query())).toBe('FORBIDDEN');
    expect(await admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'admin' })).toEqual({
      id: deputy.userId,
      role: 'admin',
    });
    expect(await listed(deputy.userId)).toMatchObject({ role: 'admin' });
    // The deputy's session stays and has the role from its next call.
    expect(await codeOf(deputy.client.admin.plugins.query())).toBe('ok');

    // A disabled administrator does not count.
    await admin.admin.setUserDisabled.mutate({ id: deputy.userId, disabled: true });
    expect((await failure(admin.admin.setUserRole.mutate({ id: rootId, role: 'user' }))).atelierCode).toBe(
      'LAST_ADMIN',
    );
    await admin.admin.setUserDisabled.mutate({ id: deputy.userId, disabled: false });
    const deputyAgain = h.client(
      (await h.client().auth.login.mutate({ email: 'deputy@example.org', password: 'deputy password' }))
        .token,
    );

    // Two administrators demoting each other at once: one wins, the other is refused (a few
    // rounds: without the lock, both calls read two administrators and both succeed).
    const enabledAdmins = async () =>
      (
        await h.database.db
          .selectFrom('users')
          .select('id')
          .where('role', '=', 'admin')
          .where('disabled_at', 'is', null)
          .execute()
      ).map((r) => r.id);
    for (let round = 0; round < 8; round++) {
      const results = await Promise.allSettled([
        admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'user' }),
        deputyAgain.admin.setUserRole.mutate({ id: rootId, role: 'user' }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const left = await enabledAdmins();
      expect(left).toHaveLength(1);
      // Both administrators again for the next round.
      if (left[0] === rootId) await admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'admin' });
      else await deputyAgain.admin.setUserRole.mutate({ id: rootId, role: 'admin' });
    }

    // One administrator disabling the other while that one steps down: never none left.
    let deputyWon = 0; // rounds the step-down won: it and the restoring promotion are audited
    for (let round = 0; round < 4; round++) {
      const deputyNow = h.client(
        (await h.client().auth.login.mutate({ email: 'deputy@example.org', password: 'deputy password' }))
          .token,
      );
      const results = await Promise.allSettled([
        admin.admin.setUserDisabled.mutate({ id: deputy.userId, disabled: true }),
        deputyNow.admin.setUserRole.mutate({ id: rootId, role: 'user' }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await enabledAdmins()).toHaveLength(1);
      // Both enabled administrators again.
      if ((await enabledAdmins())[0] === rootId)
        await admin.admin.setUserDisabled.mutate({ id: deputy.userId, disabled: false });
      else {
        deputyWon += 1;
        await deputyNow.admin.setUserRole.mutate({ id: rootId, role: 'admin' });
      }
    }
    const deputyLast = h.client(
      (await h.client().auth.login.mutate({ email: 'deputy@example.org', password: 'deputy password' }))
        .token,
    );
    await admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'user' });
    expect(await codeOf(deputyLast.admin.plugins.query())).toBe('FORBIDDEN');

    // Over REST too; a missing user and a made-up role are coded errors.
    const rest = await fetch(`${h.url}/api/admin/users/${deputy.userId}/role`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rootToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'admin' }),
    });
    expect([rest.status, await rest.json()]).toEqual([200, { id: deputy.userId, role: 'admin' }]);
    await admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'user' });
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await failure(admin.admin.setUserRole.mutate({ id: missing, role: 'admin' }))).toMatchObject({
      code: 'NOT_FOUND',
      atelierCode: 'USER_NOT_FOUND',
    });
    // @ts-expect-error -- not a role
    expect(await codeOf(admin.admin.setUserRole.mutate({ id: deputy.userId, role: 'owner' }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(user.client.admin.setUserRole.mutate({ id: user.userId, role: 'admin' }))).toBe(
      'FORBIDDEN',
    );

    const audit = await admin.admin.audit.query({});
    const roles = audit.filter((a) => a.action === 'user.role');
    expect(roles[0]).toMatchObject({
      target: { type: 'user', id: deputy.userId },
      details: { role: 'user' },
    });
    // Refused and failed calls are not audited: 1 + 8 × 2 + 1 + 2, and 2 per race the step-down won.
    expect(roles).toHaveLength(20 + 2 * deputyWon);
    expect(roles.every((a) => a.details['role'] === 'admin' || a.details['role'] === 'user')).toBe(true);
  });

  it('shows the queue, retries and cancels failed jobs, and audits every action', async () => {
    const failing = await user.client.jobs.create.mutate({
      imageId,
      plan: { steps: [{ plugin: 'test:boom' }] },
    });
    await eventually(
      async () => (await user.client.jobs.get.query({ id: failing.id })).status === 'failed' || undefined,
      60_000,
      'failed',
    );
    const queue = await admin.admin.queue.query();
    expect(queue.jobs.failed).toBeGreaterThanOrEqual(1);
    expect(queue.queues.map((q) => q.name)).toContain('atelier-render');
    const failed = await admin.admin.failedJobs.query({});
    expect(failed.map((j) => j.id)).toContain(failing.id);
    const retried = await admin.admin.retryJob.mutate({ id: failing.id });
    expect(retried.status).toBe('queued');
    await admin.admin.cancelJob.mutate({ id: failing.id }).catch(() => {}); // it may have failed again already
    const audit = await admin.admin.audit.query({});
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['plugin.update', 'user.disable', 'job.retry']));
    // Every entry names its administrator (the deputy of the roles test acted too).
    expect(audit.map((a) => a.actor)).toContain('root@example.org');
    expect(audit.every((a) => a.actor === 'root@example.org' || a.actor === 'deputy@example.org')).toBe(true);
  });
});

describe('stats', () => {
  it('are shaped for charts, per user and globally', async () => {
    const job = await user.client.jobs.create.mutate({ imageId, style: 'pop-art' });
    await eventually(
      async () => (await user.client.jobs.get.query({ id: job.id })).status === 'succeeded' || undefined,
      60_000,
      'done',
    );
    const mine = await user.client.stats.mine.query({ days: 7 });
    expect(mine.outcomes.succeeded).toBeGreaterThanOrEqual(1);
    const popArt = mine.jobsPerDay.find((s) => s.style === 'pop-art');
    expect(popArt?.points[0]).toMatchObject({ day: new Date().toISOString().slice(0, 10), count: 1 });
    expect(mine.processingMs.find((p) => p.style === 'pop-art')).toMatchObject({ jobs: 1 });
    expect(mine.storageBytes.originals).toBe((await read(photo('coffee.png'))).length);
    expect(mine.storageBytes.results).toBeGreaterThan(0);
    const global = await admin.stats.global.query({});
    expect(global.outcomes.succeeded).toBeGreaterThanOrEqual(mine.outcomes.succeeded);
  });

  it('changing the password keeps this session and ends the others', async () => {
    const other = await h
      .client()
      .auth.login.mutate({ email: 'user@example.org', password: 'ordinary password' });
    await user.client.auth.changePassword.mutate({
      currentPassword: 'ordinary password',
      newPassword: 'a brand new password',
    });
    expect((await user.client.users.me.query()).email).toBe('user@example.org');
    expect(await codeOf(h.client(other.token).users.me.query())).toBe('UNAUTHORIZED');
  });
});
