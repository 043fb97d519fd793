import type { FastifyInstance } from 'fastify';
import { AtelierError } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';
import { errorBody } from '../error-body.ts';
import type { OpsProbe } from '../ops-probe.ts';

/** Options of {@link healthPlugin}. */
export interface HealthPluginOptions {
  readonly probe: Pick<OpsProbe, 'ready'>;
  /** What /readyz reports besides `ok` when ready (`{ payments: 'off' }`). */
  readonly details?: () => Record<string, unknown>;
}

/**
 * `/healthz` (the process answers) and `/readyz` (it can serve: the database answers and the
 * queue is there). A failed readiness answers 503 with the reason's code; what Postgres or the
 * socket said (hosts, ports) goes to the log only, since anyone may call it.
 *
 * @example
 * await app.register(healthPlugin, { probe: healthService });
 */
export async function healthPlugin(app: FastifyInstance, options: HealthPluginOptions): Promise<void> {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (req, reply) => {
    try {
      await options.probe.ready();
      return { ok: true, ...options.details?.() };
    } catch (error) {
      req.log.warn({ err: error }, 'not ready');
      const coded =
        databaseUnavailable(error) ?? new AtelierError('INTERNAL', 'Not ready; see the server log.');
      return reply.code(503).send(errorBody('readiness', { error: coded, requestId: req.id }));
    }
  });
}
