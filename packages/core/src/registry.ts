import { isDeepStrictEqual } from 'node:util';
import semver from 'semver';
import { z } from 'zod';
import type { PluginCapabilities } from './capabilities.ts';
import { capabilitiesProblem } from './capabilities.ts';
import { AtelierError } from './errors.ts';
import type { ErrorCode } from './errors.ts';
import type { AnyPlugin, PluginKind } from './plugin.ts';
import { describeIssues, paramsJsonSchema } from './params.ts';
import { ENGINE_VERSION } from './version.ts';

/** Where a plugin's code lives, so that worker threads can import the very same module. */
export interface PluginSource {
  /** An absolute `file:` URL or a bare package specifier that resolves from anywhere. */
  readonly module: string;
  /** True for the plugins that ship with Atelier. @default false */
  readonly builtin?: boolean;
  /**
   * True when the plugin's code runs in the sandbox (see `@atelier/sandbox`): its module is never
   * imported in-process; the registered plugin is a proxy and the engine's threads hand its steps
   * to {@link PluginSource.runner}. @default false
   */
  readonly sandboxed?: boolean;
  /**
   * For a sandboxed plugin, the module URL of the sandbox runner the engine's threads import to run
   * its steps (its `sandboxedPlugins(moduleUrl, limits)` export gives the plugins that run there).
   */
  readonly runner?: string;
}

/** What the registry tells about a plugin: everything a catalogue, a form or OpenAPI needs. */
export interface PluginInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly engine: string;
  readonly kind: PluginKind;
  readonly tags: readonly string[];
  readonly enabled: boolean;
  readonly builtin: boolean;
  readonly module: string;
  /** JSON Schema (2020-12) of the parameters as a caller sends them. */
  readonly paramsSchema: Record<string, unknown>;
  /** The parameters used when none are given. */
  readonly defaults: Record<string, unknown>;
  /** What the plugin asks an administrator for (hosts, secret names); empty lists when nothing. */
  readonly capabilities: { readonly network: readonly string[]; readonly secrets: readonly string[] };
}

/** What {@link PluginRegistry.onChange} listeners are told: which plugin changed, and the registry's revision after it. */
export interface PluginRegistryChange {
  /** The plugin that was registered, enabled, disabled or given other defaults. */
  readonly id: string;
  /** Counts the registry's changes: one more after each. Starts at 0. */
  readonly revision: number;
}

/**
 * A plugin that was skipped at start-up, and why: what {@link PluginRegistry.failures} lists for
 * `atelier styles`, the logs and the admin API.
 */
export interface PluginLoadFailure {
  /** Where it came from: the module's `file:` URL, or the npm package name when it did not resolve. */
  readonly source: string;
  /** The plugin's id, when loading got far enough to know it. */
  readonly plugin?: string;
  /** `PLUGIN_INVALID`, `PLUGIN_ENGINE_MISMATCH`, `PLUGIN_LOAD_FAILED` or `PLUGIN_DUPLICATE`. */
  readonly code: ErrorCode;
  readonly message: string;
}

/** What {@link PluginRegistry.replacePlugins} changed, by plugin id. */
export interface PluginReplaceSummary {
  /** Third-party plugins that are new. */
  readonly added: readonly string[];
  /** Third-party plugins that are gone. */
  readonly removed: readonly string[];
  /** Third-party plugins loaded again (new code, maybe a new version). */
  readonly replaced: readonly string[];
}

/** A listener of {@link PluginRegistry.onChange}. */
export type PluginRegistryListener = (change: PluginRegistryChange) => void;

interface Entry {
  readonly plugin: AnyPlugin;
  readonly source: PluginSource;
  enabled: boolean;
  readonly schema: Record<string, unknown>;
  readonly defaults: Record<string, unknown>;
  /** Defaults an administrator set, applied under a request's own params. */
  overrides: Record<string, unknown>;
}

/** Plugin ids: lowercase words joined by `-`, optionally scoped as `scope:name`. */
export const PLUGIN_ID_PATTERN = /^(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*:)?[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const KINDS: readonly PluginKind[] = ['style', 'transform', 'analysis'];

function invalid(id: string, why: string): AtelierError {
  return new AtelierError('PLUGIN_INVALID', `Plugin "${id}" is invalid: ${why}.`, {
    details: { plugin: id },
  });
}

/**
 * Checks a plugin definition and returns its JSON Schema and defaults. Throws `PLUGIN_INVALID`
 * or `PLUGIN_ENGINE_MISMATCH` with the reason. Exported for plugin authors' own tests.
 */
export function validatePlugin(
  candidate: unknown,
  engineVersion: string = ENGINE_VERSION,
): { schema: Record<string, unknown>; defaults: Record<string, unknown> } {
  if (candidate === null || typeof candidate !== 'object') {
    throw new AtelierError('PLUGIN_INVALID', 'A plugin must be an object made by definePlugin().');
  }
  const p = candidate as Partial<AnyPlugin>;
  const id = typeof p.id === 'string' ? p.id : '(no id)';
  if (typeof p.id !== 'string' || !PLUGIN_ID_PATTERN.test(p.id)) {
    throw invalid(id, 'id must be lowercase words joined by "-", optionally "scope:name"');
  }
  if (typeof p.name !== 'string' || p.name.trim() === '') throw invalid(id, 'name is required');
  if (typeof p.description !== 'string') throw invalid(id, 'description is required');
  if (typeof p.version !== 'string' || semver.valid(p.version) === null) {
    throw invalid(id, `version "${String(p.version)}" is not a semver version`);
  }
  if (typeof p.engine !== 'string' || semver.validRange(p.engine) === null) {
    throw invalid(id, `engine "${String(p.engine)}" is not a semver range`);
  }
  if (!semver.satisfies(engineVersion, p.engine)) {
    throw new AtelierError(
      'PLUGIN_ENGINE_MISMATCH',
      `Plugin "${id}" supports engine ${p.engine}, but this engine is ${engineVersion}.`,
      { details: { plugin: id, range: p.engine, engine: engineVersion } },
    );
  }
  if (typeof p.kind !== 'string' || !KINDS.includes(p.kind)) {
    throw invalid(id, `kind must be one of ${KINDS.join(', ')}`);
  }
  if (typeof p.apply !== 'function') throw invalid(id, 'apply must be a function');
  if (p.outputSize !== undefined && typeof p.outputSize !== 'function')
    throw invalid(id, 'outputSize must be a function when given');
  if (p.alpha !== undefined && p.alpha !== 'preserve' && p.alpha !== 'process') {
    throw invalid(id, 'alpha must be "preserve" or "process"');
  }
  const capabilities = capabilitiesProblem(p.capabilities);
  if (capabilities !== undefined) throw invalid(id, capabilities);
  if (!(p.params instanceof z.ZodObject)) throw invalid(id, 'params must be a zod object schema');
  const parsed = p.params.safeParse({});
  if (!parsed.success) {
    throw invalid(id, `every parameter needs a default (${describeIssues(parsed.error.issues)})`);
  }
  let schema: Record<string, unknown>;
  try {
    schema = paramsJsonSchema(p as AnyPlugin);
  } catch (error) {
    throw invalid(id, `its parameters cannot be expressed as JSON Schema (${(error as Error).message})`);
  }
  return { schema, defaults: parsed.data as Record<string, unknown> };
}

function capabilityLists(c: PluginCapabilities | undefined): PluginInfo['capabilities'] {
  return { network: [...(c?.network ?? [])], secrets: [...(c?.secrets ?? [])] };
}

/**
 * Holds the plugins a process knows: built-ins and third-party ones. Fails fast with coded errors
 * on duplicate ids, incompatible engine ranges and invalid schemas.
 *
 * @example
 * const registry = new PluginRegistry();
 * registry.register(myPlugin, { module: import.meta.url });
 * registry.list({ kind: 'style' });
 */
export class PluginRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #engineVersion: string;
  readonly #listeners = new Set<PluginRegistryListener>();
  #failures: PluginLoadFailure[] = [];
  #revision = 0;

  constructor(options: { engineVersion?: string } = {}) {
    this.#engineVersion = options.engineVersion ?? ENGINE_VERSION;
  }

  /** Adds a plugin. `source.module` must export it, so worker threads can load it too. */
  register(plugin: AnyPlugin, source: PluginSource): void {
    const { schema, defaults } = validatePlugin(plugin, this.#engineVersion);
    const existing = this.#entries.get(plugin.id);
    if (existing) {
      throw new AtelierError(
        'PLUGIN_DUPLICATE',
        `Plugin id "${plugin.id}" is registered twice (from ${existing.source.module} and ${source.module}).`,
        { details: { plugin: plugin.id } },
      );
    }
    this.#entries.set(plugin.id, { plugin, source, enabled: true, schema, defaults, overrides: {} });
    this.#changed(plugin.id);
  }

  /**
   * Notes a plugin that could not be registered, so that it is skipped but still shown. The
   * loaders call this when told to skip bad plugins (`{ onFailure: 'skip' }`).
   */
  recordFailure(failure: PluginLoadFailure): void {
    this.#failures.push({ ...failure });
  }

  /**
   * Swaps this registry's third-party plugins and failures for those of `next` (a registry loaded
   * afresh, e.g. after the plugins folder changed), in one synchronous step, so no caller sees a
   * half-reloaded list. Built-ins stay. A plugin present before and after keeps its enabled state
   * and its administrator defaults (dropped when they no longer fit its new schema); a new one
   * keeps the state it has in `next`. Every
   * third-party id added, removed or replaced is announced to {@link onChange} listeners.
   *
   * @example
   * const summary = registry.replacePlugins(await createRegistry(config, { revision: 2 }));
   * // { added: ['acme:mosaic'], removed: [], replaced: ['acme:halftone'] }
   */
  replacePlugins(next: PluginRegistry): PluginReplaceSummary {
    const before = new Map([...this.#entries].filter(([, e]) => !(e.source.builtin ?? false)));
    const incoming = [...next.#entries.values()].filter((e) => !(e.source.builtin ?? false));
    for (const entry of incoming) {
      const existing = this.#entries.get(entry.plugin.id);
      if (existing && (existing.source.builtin ?? false)) {
        throw new AtelierError(
          'PLUGIN_DUPLICATE',
          `Plugin id "${entry.plugin.id}" is a built-in; ${entry.source.module} cannot replace it.`,
          { details: { plugin: entry.plugin.id } },
        );
      }
    }
    for (const id of before.keys()) this.#entries.delete(id);
    const added: string[] = [];
    const replaced: string[] = [];
    for (const entry of incoming) {
      const old = before.get(entry.plugin.id);
      // A new plugin comes with the state `next` has (an administrator's, applied to it first).
      const kept: Entry = { ...entry, overrides: { ...entry.overrides } };
      if (old) {
        kept.enabled = old.enabled;
        const fits = entry.plugin.params.partial().strict().safeParse(old.overrides).success;
        kept.overrides = fits ? { ...old.overrides } : {};
      }
      this.#entries.set(entry.plugin.id, kept);
      (old ? replaced : added).push(entry.plugin.id);
    }
    const removed = [...before.keys()].filter((id) => !this.#entries.has(id));
    this.#failures = next.failures().map((f) => ({ ...f }));
    for (const id of [...removed, ...added, ...replaced]) this.#changed(id);
    return { added, removed, replaced };
  }

  /** The plugins that were skipped, in the order they failed. Empty when all loaded. */
  failures(): readonly PluginLoadFailure[] {
    return [...this.#failures];
  }

  /**
   * Counts the changes {@link onChange} announces (registrations, enabling, disabling, other
   * defaults): a client that saw revision n and sees another knows the list may differ.
   */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Calls `listener` after each change that makes {@link list} or {@link describe} answer
   * differently: a plugin registered, enabled or disabled, or given other defaults. Calls that
   * change nothing (enabling an enabled plugin, the same defaults again) are not announced.
   * Listeners run synchronously, in the order they were added; one that throws does not keep
   * the others from running (the first error is thrown after all ran). Returns the function that
   * removes the listener.
   *
   * @example
   * const off = registry.onChange(({ id }) => console.log(`${id} changed`));
   * // later
   * off();
   */
  onChange(listener: PluginRegistryListener): () => void {
    // Wrapped, so that adding the same function twice gives two independent subscriptions.
    const entry: PluginRegistryListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** How many listeners {@link onChange} has; for leak checks in tests and metrics. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  #changed(id: string): void {
    this.#revision += 1;
    const change: PluginRegistryChange = { id, revision: this.#revision };
    const errors: unknown[] = [];
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  #entry(id: string): Entry {
    const entry = this.#entries.get(id);
    if (!entry) {
      // The list is cut short: a deployment with many plugins must not answer with all of them.
      const known = [...this.#entries.keys()];
      const shown =
        known.length > 8 ? `${known.slice(0, 8).join(', ')} and ${known.length - 8} more` : known.join(', ');
      throw new AtelierError('PLUGIN_NOT_FOUND', `No plugin "${id}". Known: ${shown || 'none'}.`, {
        details: { plugin: id },
      });
    }
    return entry;
  }

  /** The plugin with this id, enabled or not. Throws `PLUGIN_NOT_FOUND`. */
  get(id: string): AnyPlugin {
    return this.#entry(id).plugin;
  }

  /** The plugin with this id if it is enabled. Throws `PLUGIN_NOT_FOUND` or `PLUGIN_DISABLED`. */
  getEnabled(id: string): AnyPlugin {
    const entry = this.#entry(id);
    if (!entry.enabled) {
      throw new AtelierError('PLUGIN_DISABLED', `Plugin "${id}" is disabled.`, { details: { plugin: id } });
    }
    return entry.plugin;
  }

  source(id: string): PluginSource {
    return this.#entry(id).source;
  }

  describe(id: string): PluginInfo {
    const { plugin, source, enabled, schema, defaults, overrides } = this.#entry(id);
    return {
      id: plugin.id,
      name: plugin.name,
      description: plugin.description,
      version: plugin.version,
      engine: plugin.engine,
      kind: plugin.kind,
      tags: plugin.tags ?? [],
      enabled,
      builtin: source.builtin ?? false,
      module: source.module,
      paramsSchema: schema,
      defaults: { ...defaults, ...overrides },
      capabilities: capabilityLists(plugin.capabilities),
    };
  }

  /** Plugins in registration order; disabled ones only when asked. */
  list(filter: { kind?: PluginKind; includeDisabled?: boolean } = {}): PluginInfo[] {
    return [...this.#entries.values()]
      .filter((e) => (filter.includeDisabled ?? false) || e.enabled)
      .filter((e) => filter.kind === undefined || e.plugin.kind === filter.kind)
      .map((e) => this.describe(e.plugin.id));
  }

  enable(id: string): void {
    this.#setEnabled(id, true);
  }

  disable(id: string): void {
    this.#setEnabled(id, false);
  }

  #setEnabled(id: string, enabled: boolean): void {
    const entry = this.#entry(id);
    if (entry.enabled === enabled) return;
    entry.enabled = enabled;
    this.#changed(id);
  }

  /**
   * Sets administrator defaults: parameters applied when a request leaves them out. They are
   * checked against the plugin's schema (`PARAMS_INVALID` when they do not fit).
   */
  setDefaults(id: string, overrides: Record<string, unknown>): void {
    const entry = this.#entry(id);
    const parsed = entry.plugin.params.partial().strict().safeParse(overrides);
    if (!parsed.success) {
      throw new AtelierError(
        'PARAMS_INVALID',
        `Invalid defaults for "${id}": ${describeIssues(parsed.error.issues)}`,
        {
          details: { plugin: id },
        },
      );
    }
    if (isDeepStrictEqual(entry.overrides, overrides)) return;
    entry.overrides = { ...overrides };
    this.#changed(id);
  }

  /** The administrator defaults of a plugin (empty when none are set). */
  overrides(id: string): Readonly<Record<string, unknown>> {
    return this.#entry(id).overrides;
  }

  isEnabled(id: string): boolean {
    return this.#entry(id).enabled;
  }
}
