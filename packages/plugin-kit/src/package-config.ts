import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Budget, CheckOptions } from './check-plugin.ts';

/**
 * What a plugin package declares for the harness, in the `atelier` field of its package.json:
 *
 * ```json
 * "atelier": {
 *   "budget": { "ms": 4000, "memoryMb": 512 },
 *   "budgets": { "acme:slow": { "ms": 9000 } },
 *   "goldens": "test/goldens"
 * }
 * ```
 */
export interface PluginPackage {
  /** The package's directory. */
  readonly dir: string;
  readonly name: string | undefined;
  /** `file:` URL of the module that exports the plugins (the package's `exports["."]`, `module` or `main`). */
  readonly module: string;
  /** Budget of every plugin of the package. */
  readonly budget: Budget | undefined;
  /** Budgets per plugin id, over `budget`. */
  readonly budgets: Readonly<Record<string, Partial<Budget>>>;
  /** Absolute path of the goldens directory. */
  readonly goldens: string | undefined;
}

interface PackageJson {
  name?: unknown;
  exports?: unknown;
  module?: unknown;
  main?: unknown;
  atelier?: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function exportTarget(field: unknown): string | undefined {
  if (typeof field === 'string') return field;
  if (!isRecord(field)) return undefined;
  if ('.' in field) return exportTarget(field['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget(field[condition]);
    if (target) return target;
  }
  return undefined;
}

function budgetOf(value: unknown, where: string, partial: boolean): Partial<Budget> {
  if (!isRecord(value)) throw new Error(`${where} must be an object like { "ms": 4000, "memoryMb": 512 }.`);
  const out: { ms?: number; memoryMb?: number } = {};
  for (const key of ['ms', 'memoryMb'] as const) {
    const n = value[key];
    if (n === undefined && partial) continue;
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0)
      throw new Error(`${where}.${key} must be a positive number.`);
    out[key] = n;
  }
  return out;
}

const exists = (file: string): Promise<boolean> =>
  stat(file).then(
    (s) => s.isFile(),
    () => false,
  );

/**
 * Reads a plugin package's entry module and its `atelier` field. Throws a plain `Error` saying
 * what is wrong with the field.
 *
 * @example
 * const pkg = await readPluginPackage('.');
 * const report = await checkPlugin(pkg.module, optionsFromPackage(pkg));
 */
export async function readPluginPackage(dir: string): Promise<PluginPackage> {
  const root = path.resolve(dir);
  const file = path.join(root, 'package.json');
  const pkg = JSON.parse(await readFile(file, 'utf8')) as PackageJson;
  const target =
    exportTarget(pkg.exports) ??
    (typeof pkg.module === 'string' ? pkg.module : undefined) ??
    (typeof pkg.main === 'string' ? pkg.main : undefined);
  let entry = target === undefined ? undefined : path.resolve(root, target);
  if (entry === undefined) {
    for (const candidate of ['src/index.ts', 'index.ts', 'index.js', 'index.mjs']) {
      if (await exists(path.join(root, candidate))) {
        entry = path.join(root, candidate);
        break;
      }
    }
  }
  if (entry === undefined) throw new Error(`${file} names no entry module (exports, module or main).`);
  const field = pkg.atelier ?? {};
  if (!isRecord(field)) throw new Error(`"atelier" in ${file} must be an object.`);
  const budget =
    field['budget'] === undefined
      ? undefined
      : (budgetOf(field['budget'], 'atelier.budget', false) as Budget);
  const budgets: Record<string, Partial<Budget>> = {};
  if (field['budgets'] !== undefined) {
    if (!isRecord(field['budgets']))
      throw new Error(`"atelier.budgets" in ${file} must map plugin ids to budgets.`);
    for (const [id, value] of Object.entries(field['budgets']))
      budgets[id] = budgetOf(value, `atelier.budgets["${id}"]`, true);
  }
  const goldens = field['goldens'];
  if (goldens !== undefined && typeof goldens !== 'string')
    throw new Error(`"atelier.goldens" in ${file} must be a path.`);
  return {
    dir: root,
    name: typeof pkg.name === 'string' ? pkg.name : undefined,
    module: pathToFileURL(entry).href,
    budget,
    budgets,
    goldens: goldens === undefined ? undefined : path.resolve(root, goldens),
  };
}

/**
 * The nearest directory at or above `from` (a file path or `file:` URL) that has a package.json.
 *
 * @example
 * const dir = await findPackageDir(new URL('../src/index.ts', import.meta.url));
 */
export async function findPackageDir(from: string | URL): Promise<string | undefined> {
  let dir = path.resolve(from instanceof URL || from.startsWith('file:') ? fileURLToPath(from) : from);
  if (await exists(dir)) dir = path.dirname(dir);
  for (;;) {
    if (await exists(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * {@link CheckOptions} from a package's `atelier` field; `update` writes the goldens.
 *
 * @param update - write the goldens instead of comparing. @default false
 * @example
 * const pkg = await readPluginPackage('.');
 * await checkPlugin(pkg.module, { ...optionsFromPackage(pkg), fuzzRuns: 8 });
 */
export function optionsFromPackage(pkg: PluginPackage, update = false): CheckOptions {
  return {
    budget: pkg.budget,
    budgets: pkg.budgets,
    ...(pkg.goldens === undefined ? {} : { goldens: { dir: pkg.goldens, update } }),
  };
}
