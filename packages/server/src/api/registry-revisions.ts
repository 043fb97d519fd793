import type { PluginRegistry } from '@atelier/core';

/**
 * The registry's revision now, then again after each change ({@link PluginRegistry.onChange}),
 * until `signal` aborts or the consumer stops. Changes that come while the consumer is busy are
 * folded into one: a consumer only needs to know that the list may differ, and the newest
 * revision says so. The listener is removed when the iteration ends, however it ends.
 *
 * @example
 * for await (const revision of registryRevisions(registry, signal)) refetchStyles(revision);
 */
export async function* registryRevisions(
  registry: PluginRegistry,
  signal: AbortSignal | undefined,
): AsyncGenerator<number, void, undefined> {
  let wake: (() => void) | undefined;
  const off = registry.onChange(() => wake?.());
  const onAbort = (): void => wake?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let sent: number | undefined;
    while (!signal?.aborted) {
      const revision = registry.revision;
      if (revision !== sent) {
        sent = revision;
        yield revision;
        continue;
      }
      // No await between reading the revision and setting `wake`: no change can slip in between.
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    off();
    signal?.removeEventListener('abort', onAbort);
  }
}
