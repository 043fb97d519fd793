// Postgres restarting under load on a real `atelier serve` process: the process lives, answers
// during the outage are 503 DATABASE_UNAVAILABLE, and it serves again once Postgres is back. The
// file runs its own embedded Postgres (stopping the shared one would disturb other test files).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from './jobs-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
import { startPrivatePostgres } from './private-postgres.ts';
import { registerOver, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();

/** One answer of the API: its status and, for errors, the Atelier code it carried. */
interface Answer {
  readonly status: number;
  readonly code: string | null;
  /** The body, for what it must not say. */
  readonly text: string;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let code: string | null = null;
  try {
    const body = JSON.parse(text) as {
      error?: { data?: { atelierCode?: string | null } };
      code?: string;
    };
    code = body.error?.data?.atelierCode ?? body.code ?? null;
  } catch {
    // not JSON: keep the status only
  }
  return { status: response.status, code, text };
}

describe('atelier serve through a Postgres restart', () => {
  it(
    'stays up under load, answers 503 DATABASE_UNAVAILABLE meanwhile, and serves after',
    { timeout: 300_000 },
    async () => {
      const pg = await startPrivatePostgres('atelier-serve-restart-', defer);
      const { dir, port, url: databaseUrl } = pg;

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: '0',
        DATABASE_URL: databaseUrl,
        ATELIER_DATA_DIR: path.join(dir, 'data'),
        ATELIER_LOG_LEVEL: 'warn',
        ATELIER_QUEUE_SUPERVISE_S: '1',
      };
      const { child, url: listening, stdout, stderr } = spawnServe({ cwd: dir, env, defer });
      const log = (): string => stdout() + stderr();
      let exit: { code: number | null; signal: string | null } | undefined;
      child.once('exit', (code, signal) => (exit = { code, signal }));
      const url = await listening;

      const register = await registerOver(url, {
        email: 'load@example.org',
        password: 'load test password',
        displayName: 'Load',
      });
      expect(register.status).toBe(200);
      const { result } = (await register.json()) as { result: { data: { token: string } } };
      const auth = { authorization: `Bearer ${result.data.token}` };

      // The load: workers request /readyz (not rate-limited; it queries through Kysely's pool and
      // pg-boss's) back to back, and one of them also an authenticated tRPC call (a session lookup)
      // every few requests, staying inside the per-client rate limit. Each answer is kept with the
      // phase it was sent in.
      type Phase = 'before' | 'outage' | 'after';
      let phase: Phase = 'before';
      let running = true;
      const answers: Record<Phase, Answer[]> = { before: [], outage: [], after: [] };
      const trpcAnswers: Record<Phase, Answer[]> = { before: [], outage: [], after: [] };
      const loop = async (worker: number): Promise<void> => {
        for (let i = 0; running; i++) {
          const sentIn = phase;
          try {
            if (worker === 0 && i % 4 === 0) {
              const answer = await answerOf(await fetch(`${url}/trpc/users.me`, { headers: auth }));
              if (phase === sentIn) trpcAnswers[sentIn].push(answer);
            } else {
              const answer = await answerOf(await fetch(`${url}/readyz`));
              if (phase === sentIn) answers[sentIn].push(answer);
            }
          } catch {
            // a refused connection: the process is gone (asserted below)
            if (exit) return;
          }
        }
      };
      const load = Promise.all(Array.from({ length: 16 }, (_, i) => loop(i)));
      // Waits for `check`; a timeout says how far the load got (and how the process ended, if it did).
      const waitFor = <T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> =>
        eventually(check, 60_000, what).catch((error: Error) => {
          const counts = (phases: Record<Phase, Answer[]>): string =>
            Object.entries(phases)
              .map(
                ([name, list]) =>
                  `${name} ${list.length} (${list.filter((a) => a.status === 200).length} ok)`,
              )
              .join(', ');
          throw new Error(
            `${error.message}: /readyz ${counts(answers)}; tRPC ${counts(trpcAnswers)}; exit ${JSON.stringify(exit)}\n${log()}`,
          );
        });

      await waitFor(async () => answers.before.length >= 100 || undefined, 'load before');
      // Postgres stops (its backends get 57P01 mid-query) and stays away for a while.
      phase = 'outage';
      await pg.stop();
      await waitFor(
        async () => (answers.outage.length >= 100 && trpcAnswers.outage.length >= 3) || exit || undefined,
        'answers during the outage',
      );
      phase = 'after';
      await pg.start();
      await waitFor(
        async () => answers.after.filter((a) => a.status === 200).length >= 20 || exit || undefined,
        'serving again',
      );
      await waitFor(
        async () => trpcAnswers.after.filter((a) => a.status === 200).length >= 2 || exit || undefined,
        'tRPC serving again',
      );
      running = false;
      await load;

      expect(exit, log()).toBeUndefined();
      expect(answers.before.every((a) => a.status === 200)).toBe(true);
      // During the outage: nothing but coded 503s (a request that had reached Postgres before it
      // went may still have succeeded).
      const outage = [...answers.outage, ...trpcAnswers.outage].filter((a) => a.status !== 200);
      expect(outage.length).toBeGreaterThan(0);
      const uncoded = outage.filter((a) => a.status !== 503 || a.code !== 'DATABASE_UNAVAILABLE');
      expect(uncoded.slice(0, 5), `${uncoded.length} of ${outage.length}`).toEqual([]);
      expect(trpcAnswers.outage.some((a) => a.status === 503)).toBe(true);
      // What Postgres or the socket said (its address, the SQLSTATE) stays in the server's log.
      const leaks = outage.filter((a) =>
        new RegExp(`ECONNREFUSED|57P0|terminating connection|127\\.0\\.0\\.1:${port}`).test(a.text),
      );
      expect(leaks.slice(0, 2).map((a) => a.text)).toEqual([]);

      child.kill('SIGTERM');
      await waitFor(async () => exit, 'exit after SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
    },
  );
});
