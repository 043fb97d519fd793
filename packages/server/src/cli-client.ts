// `atelier client generate`: a client package typed for this installation's plugins
// (@atelier/client's generate.ts builds it). The styles come from the plugins configured here,
// as `atelier styles` sees them, or with --url from a running server's `GET /api/styles`.
import type { Command } from 'commander';
import { z } from 'zod';
import { AtelierError } from '@atelier/core';
import { applyStoredPluginState } from './cli-plugin-state.ts';
import { readConfig } from './config.ts';
import { openRuntimeRoot } from './runtime.ts';
import { TOKENS, resolve } from './tokens.ts';

/** A style as generate.ts takes it (its `InstalledStyle`). */
interface Style {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly paramsSchema: Record<string, unknown>;
}

/** What `GET /api/styles` answers, as far as a client needs it. */
const stylesAnswer = z.array(
  z.object({
    id: z.string().min(1),
    name: z.string(),
    description: z.string(),
    version: z.string(),
    paramsSchema: z.record(z.string(), z.unknown()),
  }),
);

/**
 * The REST route of `styles.list` (rest-api.ts serves it under its REST_PREFIX; importing that
 * module would load the whole API into every command).
 */
const STYLES_PATH = 'api/styles';

/** npm's rule for package names: lower case, URL-safe, optionally scoped, at most 214 characters. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('the typed client of the API (@atelier/client)');
  client
    .command('generate')
    .description(
      'write a client package whose jobs.create is typed for the installed styles (and refuses any other)',
    )
    .requiredOption('--out <dir>', 'the package directory to write (package.json, README.md, dist/)')
    .option(
      '--url <url>',
      "read the styles from this running server's GET /api/styles instead of the configured plugins",
    )
    .option('--name <name>', 'the package name', '@atelier/client')
    .action(async (opts: { out: string; url?: string; name: string }) => {
      if (opts.name.length > 214 || !PACKAGE_NAME.test(opts.name)) {
        throw new AtelierError('USAGE_INVALID', `--name ${opts.name} is not a valid npm package name.`);
      }
      const { styles, source } = opts.url ? await stylesOfServer(opts.url) : await configuredStyles();
      // Loaded here: the generator brings TypeScript and rollup, which no other command needs.
      const { generateClient } = await import('@atelier/client/generate');
      const generated = await generateClient({ outDir: opts.out, styles, name: opts.name, source });
      process.stdout.write(
        `${generated.name}@${generated.version} in ${generated.dir}: jobs.create takes ` +
          `${generated.styles.length} styles (${generated.styles.join(', ')})\n`,
      );
    });
}

/** The enabled plugins of this configuration: built-ins, plugin folder and packages, admin state. */
async function configuredStyles(): Promise<{ styles: Style[]; source: string }> {
  const config = readConfig();
  const root = await openRuntimeRoot(config);
  try {
    const registry = resolve(root.container, TOKENS.PluginRegistry);
    await applyStoredPluginState(config, registry, process.stderr);
    // A plugin that did not load is not in the client; say so, as `atelier styles --json` does.
    for (const f of registry.failures())
      process.stderr.write(`atelier: warning: ${f.code}: ${f.plugin ?? f.source}: ${f.message}\n`);
    return { styles: registry.list().map(style), source: 'the configured plugins' };
  } finally {
    await root.close();
  }
}

async function stylesOfServer(url: string): Promise<{ styles: Style[]; source: string }> {
  let endpoint: URL;
  try {
    endpoint = new URL(STYLES_PATH, url.endsWith('/') ? url : `${url}/`);
    if (!/^https?:$/.test(endpoint.protocol)) throw new Error(endpoint.protocol);
  } catch {
    throw new AtelierError('USAGE_INVALID', `--url ${url} is not an http(s) URL.`);
  }
  let response: Response;
  try {
    response = await fetch(endpoint, { headers: { accept: 'application/json' } });
  } catch (error) {
    const reason =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new AtelierError('STYLES_UNAVAILABLE', `Cannot reach ${endpoint.href}: ${reason}.`, {
      cause: error,
    });
  }
  const body: unknown = await response.json().catch(() => undefined);
  const parsed = stylesAnswer.safeParse(body);
  if (!response.ok || !parsed.success) {
    throw new AtelierError(
      'STYLES_UNAVAILABLE',
      `${endpoint.href} answered ${response.status}` +
        (response.ok ? ', not a list of styles; is this an Atelier server?' : '.'),
    );
  }
  return { styles: parsed.data.map(style), source: endpoint.href };
}

function style(p: Style): Style {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    version: p.version,
    paramsSchema: p.paramsSchema,
  };
}
