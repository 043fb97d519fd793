// Module resolution for the isolate, done on the trusted side (the process or worker thread that
// owns a sandbox process): the sandbox asks for each import of the module graph it instantiates,
// and gets back the file's canonical path and its JavaScript (types stripped). So the sandbox
// process itself needs no read access to plugin files, and every rule about what a plugin may
// import lives here, in one place.
import { readFile, realpath, stat } from 'node:fs/promises';
import { isBuiltin, stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AtelierError } from '@atelier/core';
import { exports as resolveExports, legacy } from 'resolve.exports';

/** A module's source for the isolate: its canonical file path and JavaScript. */
export interface ModuleSource {
  readonly path: string;
  readonly code: string;
}

/** The pure-JavaScript SDK the isolate gets for `@atelier/core` (see core's sandbox-sdk.ts). */
const SDK_FILE = fileURLToPath(import.meta.resolve('@atelier/core/sandbox-sdk'));

/** Specifiers that always mean the host's copies, whatever the plugin package brings. */
const HOST_PACKAGES = new Set(['@atelier/core', 'zod']);

function violation(message: string, details: Record<string, unknown>): AtelierError {
  return new AtelierError('SANDBOX_VIOLATION', message, { details });
}

function loadFailed(message: string, details: Record<string, unknown>): AtelierError {
  return new AtelierError('PLUGIN_LOAD_FAILED', message, { details });
}

const isFile = (file: string): Promise<boolean> =>
  stat(file).then(
    (s) => s.isFile(),
    () => false,
  );

interface PackageJson {
  readonly name?: string;
  readonly type?: string;
  readonly exports?: unknown;
  readonly module?: string;
  readonly main?: string;
}

async function readPackageJson(dir: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** The nearest package.json's `type` above `file` (Node's rule for `.js` files). */
async function packageTypeOf(file: string): Promise<string | undefined> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = await readPackageJson(dir);
    if (pkg) return pkg.type ?? 'commonjs';
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** `name` and `./subpath` of a bare specifier (`@scope/name/sub` → `@scope/name`, `./sub`). */
function splitBare(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split('/');
  const count = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, count).join('/');
  const rest = parts.slice(count).join('/');
  return { name, subpath: rest ? `./${rest}` : '.' };
}

/** Resolves a bare specifier from `fromDir` the way Node finds packages, by `exports` (import, default). */
async function resolveBare(specifier: string, fromDir: string, referrer: string): Promise<string> {
  const { name, subpath } = splitBare(specifier);
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', name);
    const pkg = await readPackageJson(pkgDir);
    if (pkg) {
      let target: string | undefined;
      if (pkg.exports !== undefined) {
        try {
          target = resolveExports(pkg, subpath, { unsafe: true, conditions: ['import'] })?.[0];
        } catch {
          target = undefined;
        }
      } else if (subpath === '.') {
        target = legacy(pkg, { browser: false, fields: ['module', 'main'] }) ?? './index.js';
      } else {
        target = subpath;
      }
      if (!target) {
        throw loadFailed(
          `Cannot import "${specifier}" from ${referrer}: the package exports nothing for it under the "import" or "default" condition (the sandbox loads ES modules only).`,
          { specifier, referrer },
        );
      }
      return path.resolve(pkgDir, target);
    }
    if (path.dirname(dir) === dir) break;
  }
  throw loadFailed(`Cannot import "${specifier}" from ${referrer}: package "${name}" is not installed.`, {
    specifier,
    referrer,
  });
}

/**
 * Where `specifier`, imported by the file `referrer` (or the entry when `referrer` is undefined),
 * points, checked against the sandbox's rules: Node built-ins and native addons are
 * `SANDBOX_VIOLATION`; CommonJS, JSON and missing files are `PLUGIN_LOAD_FAILED`.
 */
export async function resolveModule(specifier: string, referrer: string | undefined): Promise<string> {
  const from = referrer ?? '(entry)';
  if (specifier.startsWith('node:') || isBuiltin(specifier)) {
    throw violation(
      `Plugin code imports the Node built-in "${specifier}" (from ${from}); the sandbox has no Node APIs: a plugin gets pixels and its context only.`,
      { specifier, referrer: from },
    );
  }
  let file: string;
  if (specifier.startsWith('file:')) file = fileURLToPath(specifier.replace(/[?#].*$/, ''));
  else if (path.isAbsolute(specifier)) file = specifier;
  else if (specifier.startsWith('./') || specifier.startsWith('../')) {
    if (!referrer) throw loadFailed(`A relative entry "${specifier}" needs a referrer.`, { specifier });
    file = fileURLToPath(new URL(specifier, pathToFileURL(referrer)));
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
    throw violation(`Plugin code imports "${specifier}"; the sandbox loads no URLs but local files.`, {
      specifier,
      referrer: from,
    });
  } else {
    const { name } = splitBare(specifier);
    if (specifier === '@atelier/core') file = SDK_FILE;
    else if (HOST_PACKAGES.has(name)) file = await resolveBare(specifier, path.dirname(SDK_FILE), from);
    else file = await resolveBare(specifier, path.dirname(referrer ?? '/'), from);
  }
  if (/\.node$/i.test(file)) {
    throw violation(
      `Plugin code loads the native addon ${file} (from ${from}); native addons cannot run in the sandbox.`,
      { specifier, referrer: from },
    );
  }
  if (!(await isFile(file))) {
    throw loadFailed(
      `Cannot import "${specifier}" from ${from}: no file ${file} (ES modules name their files).`,
      {
        specifier,
        referrer: from,
      },
    );
  }
  const real = await realpath(file);
  if (/\.node$/i.test(real)) {
    throw violation(`Plugin code loads the native addon ${real}; native addons cannot run in the sandbox.`, {
      specifier,
      referrer: from,
    });
  }
  return real;
}

/** Whether `file` is CommonJS by Node's rules (`.cjs`, or `.js` in a package without `"type": "module"`). */
async function isCommonJs(file: string): Promise<boolean> {
  if (/\.c[jt]s$/i.test(file)) return true;
  if (/\.m[jt]s$/i.test(file)) return false;
  if (/\.ts$/i.test(file)) return false;
  // A plugin's own loose files (the plugin directory) are ES modules whatever surrounds them;
  // inside node_modules a package says what its .js files are.
  if (!file.split(path.sep).includes('node_modules')) return false;
  return (await packageTypeOf(file)) !== 'module';
}

let warned = false;
/**
 * Node's `module.stripTypeScriptTypes` (the same stripping Node applies to the workspace's own .ts
 * files), without the one-off ExperimentalWarning it prints on stderr: that warning is about Node's
 * API, not something a user of `atelier` can act on.
 */
function stripTypes(text: string): string {
  if (warned) return stripTypeScriptTypes(text, { mode: 'strip' });
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('stripTypeScriptTypes')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return stripTypeScriptTypes(text, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
    warned = true;
  }
}

/** The source of a resolved module file for the isolate: JavaScript, TypeScript with its types stripped. */
export async function readModule(
  file: string,
  specifier: string,
  referrer: string | undefined,
): Promise<ModuleSource> {
  const from = referrer ?? '(entry)';
  if (/\.json$/i.test(file)) {
    throw loadFailed(
      `Cannot import ${file} (from ${from}): the sandbox loads no JSON modules; put the data in a .js or .ts module.`,
      {
        specifier,
        referrer: from,
      },
    );
  }
  if (!/\.(?:[cm]?js|[cm]?ts)$/i.test(file)) {
    throw loadFailed(
      `Cannot import ${file} (from ${from}): only .js, .mjs and .ts modules load in the sandbox.`,
      {
        specifier,
        referrer: from,
      },
    );
  }
  if (await isCommonJs(file)) {
    throw loadFailed(
      `Cannot import ${file} (from ${from}): it is a CommonJS module, and the sandbox loads ES modules only (use a package that ships ESM, or bundle it into the plugin).`,
      { specifier, referrer: from },
    );
  }
  const text = await readFile(file, 'utf8');
  let code = text;
  if (/\.[cm]?ts$/i.test(file)) {
    try {
      code = stripTypes(text);
    } catch (error) {
      throw loadFailed(`Cannot load ${file}: ${(error as Error).message}`, { specifier, referrer: from });
    }
  }
  return { path: file, code };
}

/** The package directory of a file inside `node_modules` (`…/node_modules/@scope/name`), if it is in one. */
function nodeModulesPackageOf(file: string): string | undefined {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const count = parts[at + 1]?.startsWith('@') ? 2 : 1;
  if (at + count >= parts.length - 1) return undefined;
  return parts.slice(0, at + 1 + count).join(path.sep);
}

/**
 * The directory a plugin's module graph entered at `entry` may import files from: its package's
 * (the package in node_modules, or a package of the plugins directory whose entry this is), else
 * the entry's own directory. Never an enclosing application: a loose file in `<app>/plugins` must
 * not reach `<app>/.atelier`.
 */
async function packageRootOf(entry: string): Promise<string> {
  const installed = nodeModulesPackageOf(entry);
  if (installed) return installed;
  for (let dir = path.dirname(entry); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const pkg = await readPackageJson(dir);
    if (!pkg) continue;
    let target: string | undefined;
    try {
      target =
        pkg.exports !== undefined
          ? resolveExports(pkg, '.', { unsafe: true, conditions: ['import'] })?.[0]
          : (legacy(pkg, { browser: false, fields: ['module', 'main'] }) ?? './index.js');
    } catch {
      target = undefined;
    }
    const resolved =
      target === undefined ? undefined : await realpath(path.resolve(dir, target)).catch(() => undefined);
    return resolved === entry ? dir : path.dirname(entry);
  }
  return path.dirname(entry);
}

const isInside = (file: string, dir: string): boolean => file.startsWith(dir + path.sep);

/**
 * Resolves and reads one import of the isolate's module graph. The SDK's own files are cached for
 * the life of the process (they do not change under a running server); a plugin's are read afresh
 * at every load, so a reload sees edited code.
 */
export class ModuleSources {
  readonly #sdkCache = new Map<string, ModuleSource>();
  readonly #sdkRoots = [
    path.dirname(path.dirname(SDK_FILE)),
    path.dirname(fileURLToPath(import.meta.resolve('zod'))),
  ];

  /** For each file of a plugin's module graph, the directory its own imports must stay in. */
  readonly #roots = new Map<string, string>();

  async load(specifier: string, referrer: string | undefined): Promise<ModuleSource> {
    const file = await resolveModule(specifier, referrer);
    if (!this.#sdkRoots.some((root) => isInside(file, root))) await this.#confine(file, specifier, referrer);
    const cached = this.#sdkCache.get(file);
    if (cached) return cached;
    const source = await readModule(file, specifier, referrer);
    if (this.#sdkRoots.some((root) => file.startsWith(root + path.sep))) this.#sdkCache.set(file, source);
    return source;
  }

  /**
   * A plugin's files may import files of their own package (relative or absolute paths) and
   * installed packages (bare names), nothing else: the owner reads what the isolate asks for, so
   * without this a plugin could import any ES module on the server's disk (a config module, a
   * file of the data directory) and read its exports. `SANDBOX_VIOLATION` otherwise.
   */
  async #confine(file: string, specifier: string, referrer: string | undefined): Promise<void> {
    const installed = nodeModulesPackageOf(file);
    if (referrer === undefined) {
      this.#roots.set(file, await packageRootOf(file));
      return;
    }
    const root = this.#roots.get(referrer) ?? path.dirname(referrer);
    const bare = !specifier.startsWith('.') && !path.isAbsolute(specifier) && !specifier.startsWith('file:');
    const allowed = bare ? installed !== undefined : isInside(file, root);
    if (!allowed) {
      throw violation(
        `Plugin code imports ${file} (from ${referrer}), outside its own package ${root}; a plugin imports its own files and installed packages only.`,
        { specifier, referrer },
      );
    }
    this.#roots.set(file, bare ? installed! : root);
  }
}
