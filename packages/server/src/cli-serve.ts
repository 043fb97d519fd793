// `atelier serve`: the API, an in-process worker and (with no DATABASE_URL) the embedded Postgres,
// in one command.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readConfig } from './config.ts';
import { createLogger } from './logger.ts';

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
    .action(async (opts: { port?: number; host?: string; worker: boolean }) => {
      const logger = createLogger();
      const stopSignal = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      const config = readConfig();
      const host = opts.host ?? config.http.host;
      const { openServices } = await import('./services.ts');
      const { buildApp, createApiServices } = await import('./api/index.ts');
      const core = await openServices(config, { worker: opts.worker, logger });
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
      const app = await buildApp(api, {
        logger: logger.pino,
        trustProxy: config.http.trustProxy,
        rateLimitPerMinute: config.http.rateLimitPerMinute,
        maxBatchSize: config.http.maxBatchSize,
        metricsToken: config.http.metricsToken,
      });
      const address = await app.listen({ port: opts.port ?? config.http.port, host });
      logger.info('atelier is serving', {
        url: address,
        database: core.database.embedded ? 'embedded' : 'external',
        worker: opts.worker,
      });
      process.stdout.write(
        `Atelier API on ${address}  (tRPC at ${address}/trpc, health at ${address}/healthz)\n`,
      );
      const signal = await stopSignal;
      logger.info('shutting down', { signal });
      await app.close();
      await api.close();
      await core.close();
    });
}
