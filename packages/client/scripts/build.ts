// Builds @atelier/client for consumers outside the workspace: dist/index.js and one dist/index.d.ts
// that needs nothing but @trpc/client and @trpc/server.
//
// 1. routerContract() prints the API's types from @atelier/server's AppRouter (router-contract.ts
//    says why this is not left to a declaration bundler alone).
// 2. tsc compiles src/ against that contract instead of the server's sources, with the DOM's lib,
//    ES2022 and no Node types: if the client only works with the server's sources, only on Node,
//    or needs a language newer than Node 20's, the build fails here.
// 3. rollup (rollup-plugin-dts for the declarations) bundles both outputs into dist/.
// 4. The bundled declarations are checked for imports of anything but tRPC and zod.
//
// Run: `pnpm --filter @atelier/client build` (or `node scripts/build.ts [outDir]`).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import type { Plugin } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import ts from 'typescript';
import { routerContract } from './router-contract.ts';
import type { StyleJob } from './router-contract.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const workspaceTsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));

/** Module specifiers the published declarations may import. */
export const ALLOWED_DECLARATION_IMPORTS: readonly string[] = ['@trpc/client', '@trpc/server', 'zod'];

/** Options of {@link buildClient}. */
export interface BuildClientOptions {
  /** Where index.js and index.d.ts go; emptied first. @default packages/client/dist */
  readonly outDir?: string;
  /**
   * Types `jobs.create` with exactly these styles (generate.ts: the installed plugins) instead of
   * the server's own input type. @default the server's: typed built-ins, any other scoped id
   */
  readonly styleJobs?: readonly StyleJob[];
}

/** What {@link buildClient} wrote. */
export interface BuildClientResult {
  readonly js: string;
  readonly dts: string;
}

/**
 * Builds dist/index.js and a self-contained dist/index.d.ts.
 *
 * @example
 * const { dts } = await buildClient({ outDir: await mkdtemp('/tmp/client-') });
 */
export async function buildClient(options: BuildClientOptions = {}): Promise<BuildClientResult> {
  const outDir = path.resolve(options.outDir ?? path.join(packageDir, 'dist'));
  const work = await mkdtemp(path.join(tmpdir(), 'atelier-client-build-'));
  try {
    const contract = path.join(work, 'contract', 'app-router.d.ts');
    await mkdir(path.dirname(contract), { recursive: true });
    await writeFile(
      contract,
      routerContract({
        tsconfig: workspaceTsconfig,
        resolveFrom: packageDir,
        ...(options.styleJobs ? { styleJobs: options.styleJobs } : {}),
      }),
    );

    const emitDir = path.join(work, 'emit');
    compile(path.join(packageDir, 'src', 'index.ts'), emitDir, contract);

    await rm(outDir, { recursive: true, force: true });
    const js = path.join(outDir, 'index.js');
    const declarations = path.join(outDir, 'index.d.ts');
    const isPackage = (id: string) => !id.startsWith('.') && !path.isAbsolute(id);
    const failOnWarning = (warning: { message: string }) => {
      throw new Error(`rollup: ${warning.message}`);
    };

    const code = await rollup({
      input: path.join(emitDir, 'index.js'),
      external: isPackage,
      onwarn: failOnWarning,
    });
    await code.write({ file: js, format: 'es' });
    await code.close();

    const contractPlugin: Plugin = {
      name: 'atelier-router-contract',
      resolveId: (id) => (id === '@atelier/server' ? contract : null),
    };
    const types = await rollup({
      input: path.join(emitDir, 'index.d.ts'),
      plugins: [contractPlugin, dts({ tsconfig: workspaceTsconfig })],
      external: (id) => id !== '@atelier/server' && isPackage(id),
      onwarn: failOnWarning,
    });
    await types.write({ file: declarations, format: 'es' });
    await types.close();

    const imported = declarationImports(await readFile(declarations, 'utf8'));
    const stray = imported.filter((m) => !ALLOWED_DECLARATION_IMPORTS.includes(m));
    if (stray.length > 0) {
      throw new Error(
        `${declarations} imports ${stray.join(', ')}; it may only import ${ALLOWED_DECLARATION_IMPORTS.join(', ')}`,
      );
    }
    return { js, dts: declarations };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Compiles the client's sources to JavaScript and declarations, with `@atelier/server` read from the contract. */
function compile(entry: string, outDir: string, contract: string): void {
  const config = ts.getParsedCommandLineOfConfigFile(
    workspaceTsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`Cannot read ${workspaceTsconfig}`);
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: false,
    declaration: true,
    outDir,
    rootDir: path.dirname(entry),
    rewriteRelativeImportExtensions: true,
    paths: { '@atelier/server': [contract] },
    // What a frontend has: the DOM, no Node. ES2022, the language of the oldest runtime the
    // manifest names (Node 20, `engines`): a newer API in the client fails the build here.
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
  };
  const program = ts.createProgram([entry], options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) {
    const host = {
      getCanonicalFileName: (f: string) => f,
      getCurrentDirectory: () => packageDir,
      getNewLine: () => '\n',
    };
    throw new Error(
      `The client does not compile against the API contract:\n${ts.formatDiagnostics(diagnostics, host)}`,
    );
  }
}

/** Every module a declaration file imports or re-exports, `import("...")` types included. */
export function declarationImports(text: string): string[] {
  const file = ts.createSourceFile('index.d.ts', text, ts.ScriptTarget.ESNext, true, ts.ScriptKind.TS);
  const found = new Set<string>();
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      found.add((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.add(node.argument.literal.text);
    } else if (ts.isExternalModuleReference(node) && ts.isStringLiteral(node.expression)) {
      found.add(node.expression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...found].sort();
}

if (import.meta.main) {
  const started = performance.now();
  buildClient(process.argv[2] ? { outDir: process.argv[2] } : {}).then(
    ({ js, dts: declarations }) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(
        `@atelier/client: ${path.relative(process.cwd(), js)}, ${path.relative(process.cwd(), declarations)} (${seconds} s)`,
      );
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
