import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import client from 'prom-client';
import { AtelierError } from '@atelier/core';
import { errorBody } from '../error-body.ts';
import type { OpsProbe } from '../ops-probe.ts';

/** Options of {@link metricsPlugin}. */
export interface MetricsPluginOptions {
  /** The job gauges' source. */
  readonly probe: Pick<OpsProbe, 'jobCounts' | 'jobDurations' | 'jobFailures'>;
  /** A bearer token that may read /metrics besides administrators' sessions (`ATELIER_METRICS_TOKEN`). */
  readonly metricsToken?: string | undefined;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Prometheus metrics at `/metrics`: Node's defaults, the latency of every HTTP request by route
 * and status, and gauges of the jobs (by status; processing time by style; failures by style and
 * code). Not encapsulated (Fastify's `skip-override`): its latency hook sees every route of the
 * app it is registered in.
 *
 * Metrics tell Node's version, memory and per-route statistics: administrators' sessions
 * (`request.caller()`, from {@link authPlugin}) and the bearer token may read them, nobody else.
 *
 * @example
 * await app.register(metricsPlugin, { probe, metricsToken: process.env.ATELIER_METRICS_TOKEN });
 */
export const metricsPlugin = Object.assign(
  async function metricsPlugin(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
    const { probe } = options;
    const metrics = new client.Registry();
    client.collectDefaultMetrics({ register: metrics });
    const httpDuration = new client.Histogram({
      name: 'atelier_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [metrics],
    });
    new client.Gauge({
      name: 'atelier_queue_jobs',
      help: 'Jobs by status',
      labelNames: ['status'],
      registers: [metrics],
      async collect() {
        const rows = await probe.jobCounts();
        this.reset();
        for (const row of rows) this.set({ status: row.status }, row.count);
      },
    });
    new client.Gauge({
      name: 'atelier_job_duration_seconds_sum',
      help: 'Total processing time of finished jobs by style (see also count)',
      labelNames: ['style'],
      registers: [metrics],
      async collect() {
        const rows = await probe.jobDurations();
        this.reset();
        for (const row of rows) this.set({ style: row.style }, row.seconds);
      },
    });
    new client.Gauge({
      name: 'atelier_jobs_failed',
      help: 'Failed jobs by style and error code',
      labelNames: ['style', 'code'],
      registers: [metrics],
      async collect() {
        const rows = await probe.jobFailures();
        this.reset();
        for (const row of rows) this.set({ style: row.style, code: row.code }, row.count);
      },
    });

    // A callback hook, not an async one: it runs on every response and needs no promise.
    app.addHook('onResponse', (req, reply, done) => {
      httpDuration.observe(
        { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });

    const token = options.metricsToken ? sha256(options.metricsToken) : undefined;
    app.get('/metrics', async (req, reply) => {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!(token && bearer && timingSafeEqual(sha256(bearer), token))) {
        const { user } = await req.caller();
        if (!user)
          return reply.code(401).send(
            errorBody('plain', {
              error: new AtelierError(
                'AUTH_REQUIRED',
                'Metrics are for administrators: sign in as one, or send the metrics bearer token.',
              ),
              requestId: req.id,
            }),
          );
        if (user.role !== 'admin')
          return reply.code(403).send(
            errorBody('plain', {
              error: new AtelierError('FORBIDDEN', 'Only administrators can read metrics.'),
              requestId: req.id,
            }),
          );
      }
      return reply.type(metrics.contentType).send(await metrics.metrics());
    });
  },
  { [Symbol.for('skip-override')]: true },
);
