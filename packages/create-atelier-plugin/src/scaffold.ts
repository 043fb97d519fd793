// Writes a new plugin package from the template next to this file's package: the files, a
// package.json made for the chosen id and dependencies, then (by default) an install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Why the scaffolder stopped. Each code has one meaning:
 * - `USAGE_INVALID`: the command line or an option is malformed (an id that is not a plugin id).
 * - `TARGET_NOT_EMPTY`: the target directory exists and has files; nothing was written.
 * - `PACKAGES_NOT_FOUND`: `--packages` names no directory, or one without the SDK's tarballs.
 * - `INSTALL_FAILED`: the files were written, the dependency install failed.
 */
export type ScaffoldErrorCode =
  'USAGE_INVALID' | 'TARGET_NOT_EMPTY' | 'PACKAGES_NOT_FOUND' | 'INSTALL_FAILED';

/** A failure the user can act on; the CLI prints it as `create-atelier-plugin: CODE: message`. */
export class ScaffoldError extends Error {
  readonly code: ScaffoldErrorCode;
  constructor(code: ScaffoldErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScaffoldError';
    this.code = code;
  }
}

/**
 * The plugin id rule of `@atelier/core` (`PLUGIN_ID_PATTERN`), copied so the scaffolder installs
 * without the SDK's native dependencies; a unit test keeps the two equal.
 */
export const PLUGIN_ID_PATTERN = /^(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*:)?[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Package managers the scaffolder can install with. */
export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun';

/**
 * The ranges the generated package.json asks for. They are the versions Atelier itself is built
 * and tested with (a unit test compares them with the workspace's package.json).
 */
export const DEPENDENCY_RANGES = {
  '@atelier/core': '^1.0.0',
  '@atelier/plugin-kit': '^1.0.0',
  '@eslint/js': '^10.0.1',
  '@types/node': '^24.19.2',
  eslint: '^10.15.0',
  // Tests run on Node 24 whatever Node the machine has: npm and pnpm put node_modules/.bin first
  // on PATH for scripts, and vitest 5 needs Node >= 22.12.
  node: 'npm:node@24',
  typescript: '~5.9.3',
  'typescript-eslint': '^8.73.0',
  vitest: '^5.1.1',
} as const;

/** What {@link scaffold} needs. */
export interface ScaffoldOptions {
  /** The directory to create; it may exist if it is empty. */
  readonly dir: string;
  /**
   * The plugin's id, `scope:name` (scope optional, but third-party plugins should have one).
   * @default `local:<name of dir>`
   */
  readonly id?: string;
  /**
   * The name shown in catalogues.
   * @default the id's name in words, capitalised (`my-style` → "My style")
   */
  readonly name?: string;
  /**
   * A directory holding packed `atelier-core-*.tgz` and `atelier-plugin-kit-*.tgz`: the package
   * then depends on those files (`file:`), for when Atelier's packages are not on a registry.
   */
  readonly packages?: string;
  /**
   * Install the dependencies (which also builds `dist/` through the `prepare` script).
   * @default true
   */
  readonly install?: boolean;
  /**
   * Which package manager installs.
   * @default the one running the scaffolder (from `npm_config_user_agent`), else npm
   */
  readonly packageManager?: PackageManager;
  /** Where the installer's output goes. @default 'inherit' */
  readonly stdio?: 'inherit' | 'ignore' | 'pipe';
}

/** What {@link scaffold} made. */
export interface ScaffoldResult {
  readonly dir: string;
  readonly id: string;
  readonly name: string;
  readonly packageName: string;
  /** Paths relative to `dir`, sorted. */
  readonly files: readonly string[];
  /** The package manager that installed, or undefined with `install: false`. */
  readonly installedWith: PackageManager | undefined;
}

/** The template shipped in this package (`template/`, beside `src/` and `dist/`). */
export const TEMPLATE_DIR = fileURLToPath(new URL('../template/', import.meta.url));

/** Files whose text gets the placeholders replaced; anything else (the golden PNG) is copied. */
const TEXT_FILES = /\.(?:ts|js|json|md)$|^gitignore$/;

/**
 * The package manager named first in a `npm_config_user_agent` value (`pnpm/12.21.0 npm/? node/...`).
 *
 * @example
 * packageManagerFromUserAgent('pnpm/12.21.0 npm/? node/v24.21.0 linux x64'); // 'pnpm'
 */
export function packageManagerFromUserAgent(userAgent: string | undefined): PackageManager {
  const name = userAgent?.split('/', 1)[0];
  return name === 'pnpm' || name === 'yarn' || name === 'bun' ? name : 'npm';
}

/**
 * The id's name part in words: `acme:my-style` → "My style".
 *
 * @example
 * humanName('acme:neon-glow'); // 'Neon glow'
 */
export function humanName(id: string): string {
  const words = id.slice(id.indexOf(':') + 1).replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The npm package name for an id: `acme:my-style` → `atelier-plugin-acme-my-style`.
 *
 * @example
 * packageNameFor('my-style'); // 'atelier-plugin-my-style'
 */
export function packageNameFor(id: string): string {
  return `atelier-plugin-${id.replace(':', '-')}`;
}

/**
 * The file name of a plugin's golden image in the harness's goldens directory (the rule of
 * `goldenFileName` in `@atelier/plugin-kit`; a unit test keeps the two equal).
 *
 * @example
 * goldenFileName('acme:my-style'); // 'acme__my-style.png'
 */
export function goldenFileName(id: string): string {
  return `${id.replaceAll(':', '__')}.png`;
}

/** Where a template file goes in the new package. */
function targetName(rel: string, id: string): string {
  // npm leaves .gitignore files out of packages, so the template keeps it without the dot.
  if (rel === 'gitignore') return '.gitignore';
  // The template's golden is the default render of its plugin, named for the plugin's id.
  if (rel === 'test/goldens/golden.png') return `test/goldens/${goldenFileName(id)}`;
  return rel;
}

/** The name as it goes inside the template's quotes: '...' in code, "..." in JSON, as is in Markdown. */
function escapeName(name: string, extension: string): string {
  if (extension === '.ts' || extension === '.js') return name.replace(/[\\']/g, (c) => `\\${c}`);
  if (extension === '.json') return JSON.stringify(name).slice(1, -1);
  return name;
}

/** The default id for a directory: `local:<basename>` when the basename is a valid name. */
function defaultId(dir: string): string {
  const base = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+|-+$/g, '');
  return `local:${base || 'my-style'}`;
}

/** `atelier-core-1.0.0.tgz`-like files in `dir` for one package (the newest version if several). */
async function findTarball(dir: string, prefix: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(`${prefix}-`) && /-\d[^-]*\.tgz$/.test(n));
  // For this prefix, only files whose rest is a version (so `atelier-core-` skips `atelier-core-x-...`).
  const matching = names.filter((n) => /^\d+\.\d+\.\d+[^/]*\.tgz$/.test(n.slice(prefix.length + 1)));
  if (matching.length === 0) {
    throw new ScaffoldError('PACKAGES_NOT_FOUND', `no ${prefix}-<version>.tgz in ${dir}`);
  }
  matching.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return path.join(dir, matching.at(-1)!);
}

/** The generated package.json. */
export function packageJson(options: {
  readonly id: string;
  readonly name: string;
  readonly packageName: string;
  /** Replacement specs for the SDK packages (`file:` tarballs). */
  readonly sdk?: { readonly core: string; readonly kit: string };
}): Record<string, unknown> {
  const devDependencies: Record<string, string> = { ...DEPENDENCY_RANGES };
  if (options.sdk) {
    devDependencies['@atelier/core'] = options.sdk.core;
    devDependencies['@atelier/plugin-kit'] = options.sdk.kit;
  }
  return {
    name: options.packageName,
    version: '0.1.0',
    description: `${options.name}: a style for Atelier (${options.id})`,
    type: 'module',
    keywords: ['atelier-plugin'],
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    files: ['dist'],
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      prepare: 'tsc -p tsconfig.build.json',
      // Verbose: one line per check of the harness, which is what an author wants to see.
      test: 'vitest run --reporter=verbose',
      lint: 'eslint .',
      typecheck: 'tsc -p tsconfig.json',
      check: 'tsc -p tsconfig.json && eslint . && vitest run --reporter=verbose',
    },
    peerDependencies: { '@atelier/core': DEPENDENCY_RANGES['@atelier/core'] },
    devDependencies,
    // npm (11.x) asks before running dependencies' install scripts; node@24's unpacks its binary.
    allowScripts: { node: true },
    // The harness depends on the SDK too: one copy for both, the one named above (which matters
    // when it is a tarball that no registry has).
    ...(options.sdk ? { overrides: { '@atelier/core': '$@atelier/core' } } : {}),
    atelier: {
      // What `pluginSuite` and `atelier plugin check` hold the plugin to at 1920 px.
      budget: { ms: 4000, memoryMb: 512 },
      goldens: 'test/goldens',
    },
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

function install(dir: string, pm: PackageManager, stdio: 'inherit' | 'ignore' | 'pipe'): void {
  const result = spawnSync(pm, ['install'], { cwd: dir, stdio, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const detail = result.error?.message ?? `exit code ${result.status}`;
    const output = stdio === 'pipe' ? `\n${result.stdout}${result.stderr}` : '';
    throw new ScaffoldError(
      'INSTALL_FAILED',
      `\`${pm} install\` failed in ${dir} (${detail}); the files are written: fix the cause and run \`${pm} install\` there${output}`,
      { cause: result.error },
    );
  }
}

/**
 * Writes a new plugin package in `options.dir`: all files go to a temporary directory beside it,
 * which is then renamed into place, so a failure leaves nothing behind. Then installs, unless
 * `install: false`.
 *
 * @example
 * await scaffold({ dir: 'my-style', id: 'acme:my-style' });
 */
export async function scaffold(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const dir = path.resolve(options.dir);
  const id = options.id ?? defaultId(dir);
  if (!PLUGIN_ID_PATTERN.test(id)) {
    throw new ScaffoldError(
      'USAGE_INVALID',
      `"${id}" is not a plugin id: use lowercase words joined by "-", with a scope, e.g. acme:my-style`,
    );
  }
  const name = options.name?.trim() || humanName(id);
  if (/[\r\n]/.test(name)) throw new ScaffoldError('USAGE_INVALID', 'the name must be one line');
  if (existsSync(dir) && (await readdir(dir).catch(() => ['(not a directory)'])).length > 0) {
    throw new ScaffoldError('TARGET_NOT_EMPTY', `${dir} exists and is not empty; choose a new directory`);
  }
  let sdk: { core: string; kit: string } | undefined;
  if (options.packages !== undefined) {
    const packages = path.resolve(options.packages);
    if (!existsSync(packages)) throw new ScaffoldError('PACKAGES_NOT_FOUND', `${packages} does not exist`);
    sdk = {
      core: `file:${await findTarball(packages, 'atelier-core')}`,
      kit: `file:${await findTarball(packages, 'atelier-plugin-kit')}`,
    };
  }
  const packageName = packageNameFor(id);
  const pm = options.packageManager ?? packageManagerFromUserAgent(process.env['npm_config_user_agent']);

  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const staging = path.join(parent, `.${path.basename(dir)}.create-${process.pid}-${Date.now()}`);
  const files: string[] = [];
  try {
    for (const rel of await listFiles(TEMPLATE_DIR)) {
      const target = targetName(rel, id);
      await mkdir(path.dirname(path.join(staging, target)), { recursive: true });
      const source = path.join(TEMPLATE_DIR, rel);
      if (TEXT_FILES.test(path.basename(rel))) {
        const text = (await readFile(source, 'utf8'))
          .replaceAll('{{PLUGIN_ID}}', id)
          .replaceAll('{{PLUGIN_NAME}}', escapeName(name, path.extname(rel)))
          .replaceAll('{{PACKAGE_NAME}}', packageName);
        await writeFile(path.join(staging, target), text);
      } else {
        await writeFile(path.join(staging, target), await readFile(source));
      }
      files.push(target);
    }
    await writeFile(
      path.join(staging, 'package.json'),
      `${JSON.stringify(packageJson({ id, name, packageName, ...(sdk ? { sdk } : {}) }), null, 2)}\n`,
    );
    files.push('package.json');
    if (pm === 'pnpm') {
      // pnpm refuses to install a dependency with a build script unless told: node@24 unpacks its
      // binary in one.
      await writeFile(path.join(staging, 'pnpm-workspace.yaml'), 'allowBuilds:\n  node: true\n');
      files.push('pnpm-workspace.yaml');
    }
    if (existsSync(dir)) await rmdir(dir); // empty, checked above
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const install_ = options.install ?? true;
  if (install_) install(dir, pm, options.stdio ?? 'inherit');
  return { dir, id, name, packageName, files: files.sort(), installedWith: install_ ? pm : undefined };
}
