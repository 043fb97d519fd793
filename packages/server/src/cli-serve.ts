// `atelier serve`: the API, an in-process worker and (with no DATABASE_URL) the embedded Postgres,
// in one command.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { AtelierError } from '@atelier/core';
import { readConfig, withDevFlag } from './config.ts';
import { StopGuard } from './stop-guard.ts';
import { createLogger } from './logger.ts';
import { mallocAdvice } from './malloc.ts';
import { heapAdvice } from './v8-heap.ts';

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('port must be 0-65535.');
  return n;
};

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the API (and, by default, a worker) until SIGTERM or SIGINT')
    .option('--port <port>', 'port to listen on (env PORT, default 3000)', port)
    .option('--host <host>', 'address to listen on (env ATELIER_HOST, default 127.0.0.1)')
    .option('--no-worker', 'do not run a worker in this process')
    .option(
      '--dev',
      'development mode (env ATELIER_DEV=1): reload plugins when their code changes, skip the result cache',
    )
    .action(async (opts: { port?: number; host?: string; worker: boolean; dev?: boolean }) => {
      const logger = createLogger();
      // SIGTERM and SIGINT stop the process at any stage: during start-up, what has started is
      // stopped in reverse order (the embedded Postgres last) and the command ends with exit 0.
      const stopping = new AbortController();
      // A stop always ends the process, even when something it loaded still holds it open.
      const guard = new StopGuard(logger);
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stopping.signal.aborted) {
          logger.warn('already shutting down', { signal });
          return;
        }
        logger.info('shutting down', { signal });
        guard.closing();
        stopping.abort(new Error(`stopped by ${signal}`));
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const closers: (() => Promise<void>)[] = [];
      for (const advice of [mallocAdvice(), heapAdvice()]) if (advice) logger.info(advice);
      try {
        const config = withDevFlag(readConfig(), opts.dev);
        guard.deadlineMs = config.worker.shutdownDeadlineMs + 15_000;
        const host = opts.host ?? config.http.host;
        const listenPort = opts.port ?? config.http.port;
        const { openServices } = await import('./services.ts');
        const { buildApp, createApiServices } = await import('./api/index.ts');
        const core = await openServices(config, {
          worker: opts.worker,
          logger,
          signal: stopping.signal,
          // The plugins folder is watched: `atelier plugins add` shows up without a restart.
          reloadPlugins: true,
        });
        closers.push(() => core.close());
        stopping.signal.throwIfAborted();
        const local = host === '127.0.0.1' || host === 'localhost' || host === '::1';
        const api = await createApiServices(core, {
          allowedOrigins: config.http.allowedOrigins,
          // ATELIER_PUBLIC_URL, when set, decides instead: Secure exactly when it is https.
          secureCookies: !local,
          publicUrl: config.http.publicUrl,
          registrationsPerHour: config.http.registrationsPerHour,
          logger,
          ...(config.http.urlSecret ? { urlSecret: config.http.urlSecret } : {}),
        });
        closers.push(() => api.close());
        // With Stripe keys, a key Stripe refuses stops the start (PAYMENTS_CONFIG_INVALID) rather
        // than the first customer's checkout; Stripe out of reach is only a warning.
        const payments = await api.payments.verify();
        if (payments === 'unreachable')
          logger.warn(
            'Stripe could not be reached to check STRIPE_SECRET_KEY; checkouts will fail until it can',
          );
        logger.info('payments', { mode: api.payments.mode });
        stopping.signal.throwIfAborted();
        const app = await buildApp(api, {
          logger: logger.pino,
          trustProxy: config.http.trustProxy,
          rateLimitPerMinute: config.http.rateLimitPerMinute,
          maxBatchSize: config.http.maxBatchSize,
          metricsToken: config.http.metricsToken,
          web: config.web.enabled ? { dir: config.web.dir } : undefined,
        });
        closers.push(() => app.close());
        stopping.signal.throwIfAborted();
        logger.info('start-up: listening', { host, port: listenPort });
        const address = await app.listen({ port: listenPort, host }).catch((error: unknown) => {
          throw listenError(error, host, listenPort);
        });
        stopping.signal.throwIfAborted();
        logger.info('atelier is serving', {
          url: address,
          database: core.database.embedded ? 'embedded' : 'external',
          worker: opts.worker,
          ...(config.dev ? { dev: true } : {}),
        });
        process.stdout.write(
          `Atelier API on ${address}  (tRPC at ${address}/trpc, health at ${address}/healthz)\n` +
            (config.web.enabled ? `Web app on ${address}/\n` : '') +
            (api.payments.enabled
              ? `Payments on (Stripe ${api.payments.mode} mode); webhook endpoint ${address}/webhooks/stripe\n`
              : ''),
        );
        if (config.warmUp) {
          // In the background: requests are served meanwhile (a preview may wait for one
          // warm-up run to finish on its thread). Stops when serve does.
          logger.info('warm-up: running each style as a preview on every engine thread');
          void core.engine
            .warmUp({ signal: stopping.signal })
            .then((report) => {
              if (report.stopped) return;
              logger.info('warm-up: done', {
                styles: report.styles.length,
                runs: report.runs,
                ms: report.ms,
                ...(report.failed.length > 0
                  ? { failed: report.failed.map((f) => `${f.plugin}: ${f.code}`) }
                  : {}),
              });
            })
            // It does not reject; a bug that made it would cost only the warm-up.
            .catch((error: unknown) => logger.warn('warm-up failed', { error: String(error) }));
        }
        await new Promise((resolve) => stopping.signal.addEventListener('abort', resolve, { once: true }));
      } catch (error) {
        // A signal during start-up is a requested stop, not a failure.
        if (!stopping.signal.aborted) throw error;
        logger.info('stopped during start-up', { reason: String(error) });
      } finally {
        for (const close of closers.reverse()) {
          await close().catch((error: unknown) => logger.warn('close failed', { error: String(error) }));
        }
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        guard.closed();
      }
    });
}

/** A listen failure on a port already taken, as a coded error that says what to do. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new AtelierError(
      'PORT_IN_USE',
      `port ${port} on ${host} is in use by another process (another atelier serve?); stop that process, or choose another port with --port or PORT`,
      { cause: error, details: { host, port } },
    );
  }
  return error;
}
