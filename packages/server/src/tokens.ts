// The injection tokens of the server: one per interface a service needs. Only the composition root
// (container.ts) registers what stands behind each; services name the token, never the class.
// tsyringe's values are imported from here only: it needs reflect-metadata loaded before it.
import 'reflect-metadata';
import { inject, injectable as tsyringeInjectable } from 'tsyringe';
import type { DependencyContainer, InjectionToken } from 'tsyringe';

export { Lifecycle, container as globalContainer, instancePerContainerCachingFactory } from 'tsyringe';
export type { DependencyContainer } from 'tsyringe';
import type { Engine, Logger, PluginRegistry, Storage } from '@atelier/core';
import type { DatabaseHandle } from '@atelier/db';
import type { JobEvent, JobQueue } from '@atelier/jobs';
import type { Clock } from './auth/index.ts';
import type { AtelierConfig } from './config.ts';

/**
 * A token for an interface: it remembers the type registered under it, so that {@link injectable}
 * can check a constructor's parameters against the tokens it names. A plain symbol at run time.
 */
export type InterfaceToken<T> = symbol & { readonly __type?: T };

/** What {@link injectable} takes per parameter: an interface token, or a class that is its own token. */
export type Token<T> = InterfaceToken<T> | (new (...args: never[]) => T);

const token = <T>(name: string): InterfaceToken<T> => Symbol(`atelier:${name}`) as InterfaceToken<T>;

/**
 * The fan-out of job events: one LISTEN connection per process, any number of subscribers by job
 * id. `'reconnect'` says notifications may have been missed (read the job again).
 */
export interface EventBus {
  subscribe(jobId: string, signal: AbortSignal): AsyncIterable<[JobEvent | 'reconnect']>;
}

/** What the API's HTTP side is configured with (from `ATELIER_*` settings). */
export interface HttpSettings {
  /** Browser origins allowed to call with cookies (CORS and the Origin check). */
  readonly allowedOrigins: readonly string[];
  /** Secret for signed download URLs. */
  readonly urlSecret: Uint8Array;
  /** Whether cookies get the Secure attribute (off only on localhost). */
  readonly secureCookies: boolean;
  /** The origin of `ATELIER_PUBLIC_URL`, when set: the API's own origin for the Origin check. */
  readonly publicOrigin: string | undefined;
  /** Accounts one client IP may register per hour. */
  readonly registrationsPerHour: number;
}

/** The tokens, by the interface each stands for. */
export const TOKENS = {
  /** The migrated Postgres database: `{ db, url, embedded, close }` (@atelier/db). */
  Database: token<DatabaseHandle>('Database'),
  /** The render queue (@atelier/jobs); nothing in the server sees the queue library. */
  JobQueue: token<JobQueue>('JobQueue'),
  /** Where originals and results are stored (@atelier/storage: filesystem or S3). */
  Storage: token<Storage>('Storage'),
  /** Where services read the time. */
  Clock: token<Clock>('Clock'),
  Logger: token<Logger>('Logger'),
  /** Job events fanned out to subscribers (JobEventHub). */
  EventBus: token<EventBus>('EventBus'),
  /** The plugins, built-in and third-party, with administrators' settings applied. */
  PluginRegistry: token<PluginRegistry>('PluginRegistry'),
  /** The engine that runs plans (previews; the worker's jobs). */
  Engine: token<Engine>('Engine'),
  /** The whole configuration, as read at start-up. */
  Config: token<AtelierConfig>('Config'),
  /** The API's HTTP settings (registered by the API's root only). */
  HttpSettings: token<HttpSettings>('HttpSettings'),
} as const;

type Tokens<A extends readonly unknown[]> = { readonly [K in keyof A]: Token<A[K]> };

/**
 * Marks `target` injectable with one token per constructor parameter, in order: what
 * `@injectable()` with `@inject(TOKEN)` on each parameter does, as plain calls. Node's type
 * stripping, which runs these sources, has no decorator syntax; and the tokens are checked here
 * against the parameters' types.
 *
 * @example
 * export class StatsService { constructor(database: DatabaseHandle) { ... } }
 * injectable(StatsService, [TOKENS.Database]);
 */
export function injectable<A extends readonly unknown[], T>(
  target: new (...args: A) => T,
  tokens: Tokens<A>,
): void {
  // Parameter decorators run before the class decorator, which reads what they recorded.
  tokens.forEach((t: Token<unknown>, index) =>
    inject(t as InjectionToken<unknown>)(target, undefined, index),
  );
  tsyringeInjectable<T>()(target);
}

/**
 * `container.resolve(token)` typed by the token. For process roots and tests only: services get
 * what they need through their constructors.
 */
export function resolve<T>(container: DependencyContainer, token: Token<T>): T {
  return container.resolve<T>(token as InjectionToken<T>);
}
