// `atelier client generate`: the client package typed for the styles of one Atelier installation.
// It is @atelier/client built as usual (build.ts), except that `jobs.create` takes exactly the
// installed styles, each with its own parameters typed from the JSON Schema the registry publishes
// (json-schema-type.ts). A wrong parameter type, an unknown parameter or an unknown style id is then
// a compile error in the frontend, as it is a PARAMS_INVALID or PLUGIN_NOT_FOUND from the server.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClient } from './build.ts';
import { jsonSchemaType } from './json-schema-type.ts';
import type { JsonSchema } from './json-schema-type.ts';
import type { StyleJob } from './router-contract.ts';

const clientManifest = fileURLToPath(new URL('../package.json', import.meta.url));

/** A plugin as the registry lists it (`atelier styles --json`, `GET /api/styles`). */
export interface InstalledStyle {
  /** e.g. `acme:mosaic` */
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly version?: string;
  /** The JSON Schema of its parameters, as a caller sends them (`paramsJsonSchema`). */
  readonly paramsSchema: JsonSchema;
}

/** Options of {@link generateClient}. */
export interface GenerateClientOptions {
  /** The package directory to write: `package.json`, `README.md`, `dist/`. Created if missing. */
  readonly outDir: string;
  /** The styles `jobs.create` takes, in this order. */
  readonly styles: readonly InstalledStyle[];
  /** The package's name. @default '@atelier/client' */
  readonly name?: string;
  /** Where the styles were read from, recorded in package.json (`atelier.generatedFrom`). */
  readonly source?: string;
}

/** What {@link generateClient} wrote. */
export interface GeneratedClient {
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  readonly styles: readonly string[];
}

/** The package name used when none is given. */
export const DEFAULT_CLIENT_NAME = '@atelier/client';

/**
 * Writes a ready-to-install client package whose `jobs.create` is typed for `styles`.
 *
 * @example
 * await generateClient({
 *   outDir: 'generated/atelier-client',
 *   styles: [{ id: 'acme:mosaic', paramsSchema: { type: 'object', properties: { tiles: { type: 'integer' } } } }],
 * });
 * // In the frontend: jobs.create.mutate({ imageId, style: 'acme:mosaic', params: { tiles: 24 } })
 */
export async function generateClient(options: GenerateClientOptions): Promise<GeneratedClient> {
  const dir = path.resolve(options.outDir);
  const name = options.name ?? DEFAULT_CLIENT_NAME;
  const ids = options.styles.map((s) => s.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw new Error(`The style ${twice} is listed twice`);

  const styleJobs: StyleJob[] = options.styles.map((style) => {
    const schema = style.paramsSchema;
    const required =
      typeof schema === 'object' && Array.isArray(schema.required) && schema.required.length > 0;
    const doc = [
      [style.name, style.version && `v${style.version}`].filter(Boolean).join(' '),
      style.description ?? '',
    ]
      .filter(Boolean)
      .join(': ');
    return {
      id: style.id,
      params: jsonSchemaType(schema, style.id),
      paramsRequired: required,
      ...(doc ? { doc } : {}),
    };
  });

  const manifest = JSON.parse(await readFile(clientManifest, 'utf8')) as ClientManifest;
  await mkdir(dir, { recursive: true });
  await buildClient({ outDir: path.join(dir, 'dist'), styleJobs });
  const pkg = {
    name,
    version: manifest.version,
    description: `Typed client of an Atelier API with its installed styles: ${ids.join(', ') || '(none)'}`,
    type: 'module',
    // What pnpm publishes for @atelier/client: the built files, not the workspace's sources.
    exports: manifest.publishConfig.exports,
    types: manifest.publishConfig.types,
    files: manifest.files,
    engines: manifest.engines,
    peerDependencies: manifest.peerDependencies,
    atelier: {
      ...(options.source ? { generatedFrom: options.source } : {}),
      styles: Object.fromEntries(options.styles.map((s) => [s.id, s.version ?? null])),
    },
  };
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(path.join(dir, 'README.md'), readme(name, options));
  return { dir, name, version: manifest.version, styles: ids };
}

interface ClientManifest {
  readonly version: string;
  readonly files: readonly string[];
  readonly engines: Readonly<Record<string, string>>;
  readonly peerDependencies: Readonly<Record<string, string>>;
  readonly publishConfig: { readonly exports: unknown; readonly types: string };
}

function readme(name: string, options: GenerateClientOptions): string {
  const rows = options.styles.map(
    (s) => `| \`${s.id}\` | ${s.version ?? ''} | ${(s.description ?? '').replaceAll('|', '\\|')} |`,
  );
  return `# ${name}

The typed client of an Atelier API (see Atelier's docs/client.md), generated by
\`atelier client generate\`${options.source ? ` from ${options.source}` : ''}. \`jobs.create\` takes
these styles, each with its own parameters; regenerate it when the installed plugins change.

| style | version | description |
| ----- | ------- | ----------- |
${rows.join('\n')}
`;
}
