// `pnpm start`: until the API server lands, starting Atelier means running the engine on a sample
// photo with every built-in style and printing where the results are.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAtelierError } from '@atelier/core';
import { writeFileAtomic } from './cli-apply.ts';
import { readConfig } from './config.ts';
import { createRuntime } from './runtime.ts';

const sample = fileURLToPath(new URL('../../../test/fixtures/images/chelsea.png', import.meta.url));
const outDir = path.resolve(process.env.ATELIER_DATA_DIR ?? '.atelier', 'samples');

async function start(): Promise<void> {
  const { registry, engine } = await createRuntime(readConfig());
  try {
    await mkdir(outDir, { recursive: true });
    const input = await readFile(sample);
    const styles = registry.list({ kind: 'style' });
    process.stdout.write(
      `Atelier engine: ${registry.list().length} plugins, ${engine.threads} worker threads.\n`,
    );
    process.stdout.write(`Applying ${styles.length} styles to ${path.relative(process.cwd(), sample)}:\n`);
    await Promise.all(
      styles.map(async (style) => {
        const result = await engine.run(
          input,
          engine.plan({ steps: [{ plugin: style.id }], output: { format: 'jpeg' } }),
        );
        const file = path.join(outDir, `${style.id.replaceAll(':', '-')}.jpg`);
        await writeFileAtomic(file, result.data);
        process.stdout.write(
          `  ${style.id.padEnd(14)} ${file}  (${Math.round(result.timings.totalMs)} ms)\n`,
        );
      }),
    );
    process.stdout.write(`\nTry your own photo:  pnpm atelier apply photo.jpg --style cartoon --out out/\n`);
  } finally {
    await engine.close();
  }
}

start().catch((error: unknown) => {
  process.stderr.write(
    isAtelierError(error)
      ? `atelier: ${error.code}: ${error.message}\n`
      : `atelier: INTERNAL: ${String(error)}\n`,
  );
  process.exitCode = 1;
});
