// The SDK the isolates get for `@atelier/core` and `zod`, as one classic script (rolldown, IIFE),
// built on the trusted side from the files installed with the host, once per process. The sandbox
// process compiles it once for V8's code cache and runs it in every fresh isolate; the plugin's
// imports of the two packages are answered with small modules that re-export the script's objects
// (see sandbox-child.ts). Without it, each fresh isolate (one per run) compiled and evaluated some
// 280 module files (about 1 MB of zod and the SDK) fetched one by one over IPC: 100-300 ms per run.
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './sdk-entry.ts' : './sdk-entry.js', import.meta.url),
);

let once: Promise<string> | undefined;

/** The SDK bundle's code, built at the first call of this process (about 150 ms). */
export function sdkBundle(): Promise<string> {
  once ??= build();
  once.catch(() => {
    once = undefined;
  });
  return once;
}

async function build(): Promise<string> {
  const problems: string[] = [];
  const bundle = await rolldown({
    input: ENTRY,
    platform: 'neutral',
    // Anything the bundle cannot resolve would become a free variable of the script: refused.
    onLog(level, log) {
      if (level === 'warn' && log.code === 'UNRESOLVED_IMPORT') problems.push(log.message);
    },
  });
  try {
    const { output } = await bundle.generate({ format: 'iife' });
    if (problems.length > 0) throw new Error(problems.join('; '));
    const chunk = output.find((o) => o.type === 'chunk');
    if (!chunk) throw new Error('rolldown produced no script');
    return chunk.code;
  } finally {
    await bundle.close();
  }
}
