// The sandbox runner: imported by the engine's worker threads (PluginSource.runner) for the steps
// of sandboxed plugins. Each thread owns one warm sandbox process, spawned on first use and again
// after it died; the thread runs a sandboxed step with core's runStep like any other, through a
// proxy whose apply sends the image to the sandbox and forwards what the plugin asks of its context.
import { AtelierError, isAtelierError, outputPixelLimit } from '@atelier/core';
import type { AnyPlugin, PlanLimits, PluginContext, RawImage } from '@atelier/core';
import { proxyPlugin } from './load.ts';
import { HOST_CALLS } from './protocol.ts';
import type { PluginDescription } from './protocol.ts';
import { SandboxProcess } from './sandbox-process.ts';

let sandbox: SandboxProcess | undefined;
const sandboxOfThread = (): SandboxProcess => (sandbox ??= new SandboxProcess());

/** Replaces every granted secret's value in `text`, so no log line or error carries one. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const value of secrets) if (value.length >= 4) out = out.split(value).join('[redacted]');
  return out;
}

function redactError(error: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0 || !isAtelierError(error)) return error;
  const message = redactSecrets(error.message, secrets);
  if (message === error.message) return error;
  return new AtelierError(error.code, message, error.details ? { details: error.details } : {});
}

/** The values of the secrets the plugin declared that its context grants. */
function grantedSecrets(description: PluginDescription, ctx: PluginContext<unknown>): Record<string, string> {
  const secret = (ctx as { secret?: (name: string) => string }).secret;
  const out: Record<string, string> = {};
  if (typeof secret !== 'function') return out;
  for (const name of description.capabilities?.secrets ?? []) {
    try {
      out[name] = secret.call(ctx, name);
    } catch {
      // Not granted: the isolate's ctx.secret(name) refuses it with CAPABILITY_DENIED.
    }
  }
  return out;
}

/** A host call's result as it can cross to the sandbox: methods (HostResponse.text()...) dropped; the isolate adds its own. */
function plainData(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value))
    return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v !== 'function'));
}

function sandboxedStep(moduleUrl: string, description: PluginDescription, limits: PlanLimits): AnyPlugin {
  const plugin = proxyPlugin(description);
  const apply = async (ctx: PluginContext<Record<string, unknown>>): Promise<RawImage> => {
    const secrets = grantedSecrets(description, ctx as PluginContext<unknown>);
    const values = Object.values(secrets);
    const forward = ctx as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
    try {
      const out = await sandboxOfThread().run(
        {
          moduleUrl,
          plugin: description.id,
          image: ctx.image,
          params: ctx.params,
          seed: ctx.seed,
          previewScale: ctx.previewScale,
          memoryMb: limits.maxMemoryMb,
          maxPixels: Math.max(limits.maxInputPixels, outputPixelLimit(limits)),
          secrets,
          // Without outputSize a plugin keeps its input's size, and mostly its channels.
          ...(description.hasOutputSize ? {} : { outputBytes: ctx.image.data.length }),
        },
        {
          signal: ctx.signal,
          progress: ctx.progress,
          log: (level, message) =>
            ctx.logger[level](redactSecrets(message, values), { plugin: description.id }),
          host: async (name, args) => {
            const fn = (HOST_CALLS as readonly string[]).includes(name) ? forward[name] : undefined;
            if (typeof fn !== 'function') {
              throw new AtelierError(
                'PLUGIN_FAILED',
                `ctx.${name}() is not available to plugin "${description.id}".`,
              );
            }
            return plainData(await fn.apply(ctx, args));
          },
        },
      );
      return out as RawImage;
    } catch (error) {
      throw redactError(error, values);
    }
  };
  return { ...plugin, apply } as AnyPlugin;
}

/**
 * The plugins of a sandboxed module, as proxies that run in this thread's sandbox process. The
 * module is loaded (and kept warm) in an isolate whose memory limit is the plan's `maxMemoryMb`.
 */
export async function sandboxedPlugins(moduleUrl: string, limits: PlanLimits): Promise<readonly AnyPlugin[]> {
  const descriptions = await sandboxOfThread().describe(moduleUrl, limits.maxMemoryMb);
  return descriptions.map((d) => sandboxedStep(moduleUrl, d, limits));
}

/** Stops this thread's sandbox process (the engine's threads also stop it by ending). */
export async function closeThreadSandbox(): Promise<void> {
  const s = sandbox;
  sandbox = undefined;
  await s?.close();
}
