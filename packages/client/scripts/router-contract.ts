// Writes the API as a client sees it: every procedure's kind, input and output, and the error shape,
// as one self-contained declaration of `AppRouter` that imports nothing but `@trpc/server`.
//
// Why not hand the server's declarations to a bundler: `typeof appRouter` carries the server's
// context (Fastify requests, the database, the queue, storage) and its OpenAPI meta, so a
// declaration bundler, which follows names and never evaluates types, would drag all of that in;
// and tsc cannot even emit router.ts (TS2742: the upload input names undici's FormData). The
// TypeScript checker, on the other hand, knows each procedure's resolved types; this module prints
// them. Types of the workspace become local declarations (named ones keep their names), types of
// TypeScript's lib stay as they are, tRPC's come from `@trpc/server`, and anything else (a type
// from Fastify, Kysely, zod internals...) stops the build with the path where it was found.
import path from 'node:path';
import ts from 'typescript';

/** Options of {@link routerContract}. */
export interface RouterContractOptions {
  /** The tsconfig whose compiler options load the workspace (the repository's root one). */
  readonly tsconfig: string;
  /** A directory from which `@atelier/server` and `@trpc/server` resolve (the client package). */
  readonly resolveFrom: string;
  /**
   * The styles `jobs.create` is typed with, one member each, in place of the server's own style
   * members (its typed built-ins and the open `OtherStyleId` one); the plan member stays. Given by
   * `atelier client generate` for the installed plugins. @default the server's own input type
   */
  readonly styleJobs?: readonly StyleJob[];
}

/** One style of `jobs.create` in a generated contract: `{ ...common, style: id, params?: P }`. */
export interface StyleJob {
  /** The style's id, e.g. `acme:mosaic`. */
  readonly id: string;
  /** The type of its `params` (json-schema-type.ts makes it from the style's JSON Schema). */
  readonly params: ts.TypeNode;
  /** Whether `params` must be given: a parameter is required (it has no default). @default false */
  readonly paramsRequired?: boolean;
  /** TSDoc of the member's `style`: what the style is. */
  readonly doc?: string;
}

/** The procedure whose input {@link RouterContractOptions.styleJobs} replaces. */
const STYLE_JOBS_PROCEDURE = 'jobs.create';

const PROCEDURES = {
  query: 'TRPCQueryProcedure',
  mutation: 'TRPCMutationProcedure',
  subscription: 'TRPCSubscriptionProcedure',
} as const;

/**
 * The declaration text of a module exporting `type AppRouter`, equivalent for a tRPC client to
 * `@atelier/server`'s `AppRouter` but with an empty context and meta.
 *
 * @example
 * await writeFile(file, routerContract({ tsconfig: 'tsconfig.json', resolveFrom: 'packages/client' }));
 */
export function routerContract(options: RouterContractOptions): string {
  const probePath = path.join(path.resolve(options.resolveFrom), '__router-contract-probe__.ts');
  const probeText = [
    "import type { AppRouter } from '@atelier/server';",
    "import type * as trpc from '@trpc/server';",
    'export type Router = AppRouter;',
    'export type Trpc = typeof trpc;',
  ].join('\n');

  const config = ts.getParsedCommandLineOfConfigFile(
    options.tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`Cannot read ${options.tsconfig}`);
  const compilerOptions = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(compilerOptions, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (file, language, ...rest) =>
    file === probePath
      ? ts.createSourceFile(file, probeText, language, true)
      : getSourceFile.call(host, file, language, ...rest);
  host.fileExists = (file) => file === probePath || fileExists.call(host, file);
  host.readFile = (file) => (file === probePath ? probeText : readFile.call(host, file));

  const program = ts.createProgram({ rootNames: [probePath], options: compilerOptions, host });
  const probe = program.getSourceFile(probePath)!;
  const problems = [...program.getSyntacticDiagnostics(probe), ...program.getSemanticDiagnostics(probe)];
  if (problems.length > 0) {
    throw new Error(ts.formatDiagnostics(problems, { ...host, getNewLine: () => '\n' }));
  }
  const checker = program.getTypeChecker();

  const trpcImport = probe.statements.find(
    (s): s is ts.ImportDeclaration =>
      ts.isImportDeclaration(s) && (s.moduleSpecifier as ts.StringLiteral).text === '@trpc/server',
  )!;
  const trpcModule = checker.getSymbolAtLocation(trpcImport.moduleSpecifier)!;
  const trpcExports = new Map<ts.Symbol, string>();
  for (const exported of checker.getExportsOfModule(trpcModule)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!trpcExports.has(target)) trpcExports.set(target, exported.name);
  }
  const globals = new Set(checker.getSymbolsInScope(probe, ts.SymbolFlags.Type).map((s) => s.name));

  const routerAlias = probe.statements.find(
    (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'Router',
  )!;
  const router = checker.getTypeAtLocation(routerAlias.name);
  const printer = new ContractPrinter(checker, program, trpcExports, globals, options.styleJobs);
  return printer.contract(router);
}

class ContractPrinter {
  readonly #checker: ts.TypeChecker;
  readonly #program: ts.Program;
  readonly #trpcExports: Map<ts.Symbol, string>;
  readonly #globals: Set<string>;
  readonly #imports = new Set<string>();
  readonly #declared = new Map<ts.Symbol, string>();
  readonly #declarations: ts.TypeAliasDeclaration[] = [];
  readonly #usedNames = new Set<string>();
  readonly #expanding = new Set<ts.Type>();
  readonly #styleJobs: readonly StyleJob[] | undefined;
  #styleJobsUsed = false;
  #errorShape: ts.Type | undefined;
  #errorShapeDeclared = false;

  constructor(
    checker: ts.TypeChecker,
    program: ts.Program,
    trpcExports: Map<ts.Symbol, string>,
    globals: Set<string>,
    styleJobs: readonly StyleJob[] | undefined,
  ) {
    this.#checker = checker;
    this.#program = program;
    this.#trpcExports = trpcExports;
    this.#globals = globals;
    this.#styleJobs = styleJobs;
  }

  contract(router: ts.Type): string {
    const f = ts.factory;
    const def = this.#property(router, '_def', 'AppRouter');
    const rootTypes = this.#property(this.#property(def, '_config', 'AppRouter._def'), '$types', 'AppRouter');
    this.#errorShape = this.#property(rootTypes, 'errorShape', 'root');
    const root = f.createTypeLiteralNode([
      member('ctx', keyword(ts.SyntaxKind.ObjectKeyword)),
      member('meta', keyword(ts.SyntaxKind.ObjectKeyword)),
      member('errorShape', f.createTypeReferenceNode(this.#errorShapeName())),
      member('transformer', this.#node(this.#property(rootTypes, 'transformer', 'root'), 'transformer')),
    ]);
    const record = this.#record(this.#property(def, 'record', 'AppRouter._def'), '');
    if (this.#styleJobs && !this.#styleJobsUsed) {
      throw new Error(`styleJobs: the router has no procedure ${STYLE_JOBS_PROCEDURE}`);
    }
    const appRouter = f.createTypeAliasDeclaration(
      [f.createModifier(ts.SyntaxKind.ExportKeyword)],
      'AppRouter',
      undefined,
      f.createTypeReferenceNode(this.#import('TRPCBuiltRouter'), [root, record]),
    );
    ts.addSyntheticLeadingComment(
      appRouter,
      ts.SyntaxKind.MultiLineCommentTrivia,
      '* The Atelier API as a tRPC client sees it: every procedure with its input and output. ',
      true,
    );

    const print = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
    const file = ts.createSourceFile('contract.d.ts', '', ts.ScriptTarget.ESNext, false, ts.ScriptKind.TS);
    const importLine = `import type { ${[...this.#imports].sort().join(', ')} } from '@trpc/server';`;
    const statements = [...this.#declarations, appRouter].map((s) =>
      print.printNode(ts.EmitHint.Unspecified, s, file),
    );
    return [importLine, '', ...statements, ''].join('\n');
  }

  #record(type: ts.Type, where: string): ts.TypeLiteralNode {
    return ts.factory.createTypeLiteralNode(
      this.#checker.getPropertiesOfType(type).map((entry) => {
        const value = this.#checker.getTypeOfSymbol(entry);
        const at = where ? `${where}.${entry.name}` : entry.name;
        const node = this.#checker.getPropertyOfType(value, '_def')
          ? this.#procedure(value, at)
          : this.#record(value, at);
        return this.#documented(member(entry.name, node), entry);
      }),
    );
  }

  #procedure(procedure: ts.Type, where: string): ts.TypeNode {
    const def = this.#property(procedure, '_def', where);
    const kind = this.#property(def, 'type', where);
    const name = kind.isStringLiteral() ? PROCEDURES[kind.value as keyof typeof PROCEDURES] : undefined;
    if (!name) throw new Error(`${where}: unknown procedure type ${this.#checker.typeToString(kind)}`);
    const types = this.#property(def, '$types', where);
    const errorShape = this.#property(types, 'errorShape', where);
    const input = this.#property(types, 'input', where);
    const members = [
      member(
        'input',
        this.#styleJobs && where === STYLE_JOBS_PROCEDURE
          ? this.#styleJobsInput(input, `${where} input`)
          : this.#node(input, `${where} input`),
      ),
      member('output', this.#node(this.#property(types, 'output', where), `${where} output`)),
      member('meta', keyword(ts.SyntaxKind.ObjectKeyword)),
      ...(errorShape.flags & ts.TypeFlags.Unknown
        ? []
        : [
            member(
              'errorShape',
              errorShape === this.#errorShape
                ? ts.factory.createTypeReferenceNode(this.#errorShapeName())
                : this.#node(errorShape, `${where} errorShape`),
            ),
          ]),
    ];
    return ts.factory.createTypeReferenceNode(this.#import(name), [
      ts.factory.createTypeLiteralNode(members),
    ]);
  }

  /**
   * `jobs.create`'s input with one member per given style, each with the fields the server's style
   * members share (imageId, output, idempotencyKey...), and the members without a `style` (the
   * plan) as the server has them.
   */
  #styleJobsInput(input: ts.Type, where: string): ts.TypeNode {
    const f = ts.factory;
    this.#styleJobsUsed = true;
    const members = input.isUnion() ? input.types : [input];
    const isStyleJob = (t: ts.Type) => this.#checker.getPropertyOfType(t, 'style') !== undefined;
    const template = members.find(isStyleJob);
    if (!template) throw new Error(`${where}: no member has a \`style\` to type the installed styles after`);
    const common = this.#checker
      .getPropertiesOfType(template)
      .filter((p) => p.name !== 'style' && p.name !== 'params')
      .map((p) => this.#propertySignature(p, where));
    const styles = this.#styleJobs!.map((job) => {
      const params = f.createPropertySignature(
        undefined,
        'params',
        job.paramsRequired ? undefined : f.createToken(ts.SyntaxKind.QuestionToken),
        job.params,
      );
      // The doc goes on `style`, where an editor shows it.
      const style = member('style', f.createLiteralTypeNode(f.createStringLiteral(job.id)));
      return f.createTypeLiteralNode([...common, job.doc ? withDoc(style, job.doc) : style, params]);
    });
    const rest = members.filter((t) => !isStyleJob(t)).map((t) => this.#node(t, where));
    const all = [...styles, ...rest];
    if (all.length === 0) return keyword(ts.SyntaxKind.NeverKeyword);
    return all.length === 1 ? all[0]! : f.createUnionTypeNode(all);
  }

  /** The error shape every procedure shares, declared once as `ErrorShape`. */
  #errorShapeName(): string {
    if (!this.#errorShapeDeclared) {
      this.#errorShapeDeclared = true;
      this.#usedNames.add('ErrorShape');
      const body = this.#node(this.#errorShape!, 'errorShape');
      const alias = ts.factory.createTypeAliasDeclaration(undefined, 'ErrorShape', undefined, body);
      ts.addSyntheticLeadingComment(
        alias,
        ts.SyntaxKind.MultiLineCommentTrivia,
        '* What a failed call carries: `TRPCClientError#data` is its `data`. ',
        true,
      );
      this.#declarations.push(alias);
    }
    return 'ErrorShape';
  }

  #property(type: ts.Type, name: string, where: string): ts.Type {
    const symbol = this.#checker.getPropertyOfType(type, name);
    if (!symbol) throw new Error(`${where}: no property ${name} on ${this.#checker.typeToString(type)}`);
    return this.#checker.getTypeOfSymbol(symbol);
  }

  #import(name: string): string {
    this.#imports.add(name);
    this.#usedNames.add(name);
    return name;
  }

  /** A type as a node: named where it can be, spelled out where it must be. */
  #node(type: ts.Type, where: string): ts.TypeNode {
    const f = ts.factory;
    const F = ts.TypeFlags;
    if (type.flags & F.Any) return keyword(ts.SyntaxKind.AnyKeyword);
    if (type.flags & F.Unknown) return keyword(ts.SyntaxKind.UnknownKeyword);
    if (type.flags & F.String) return keyword(ts.SyntaxKind.StringKeyword);
    if (type.flags & F.Number) return keyword(ts.SyntaxKind.NumberKeyword);
    if (type.flags & F.BigInt) return keyword(ts.SyntaxKind.BigIntKeyword);
    if (type.flags & F.Void) return keyword(ts.SyntaxKind.VoidKeyword);
    if (type.flags & F.Undefined) return keyword(ts.SyntaxKind.UndefinedKeyword);
    if (type.flags & F.Null) return f.createLiteralTypeNode(f.createNull());
    if (type.flags & F.Never) return keyword(ts.SyntaxKind.NeverKeyword);
    if (type.flags & F.ESSymbol) return keyword(ts.SyntaxKind.SymbolKeyword);
    if (type.flags & F.NonPrimitive) return keyword(ts.SyntaxKind.ObjectKeyword);
    if (type.isStringLiteral()) return f.createLiteralTypeNode(f.createStringLiteral(type.value));
    if (type.flags & F.TemplateLiteral) {
      // e.g. jobs.create's `${string}:${string}`, the id of a style other than the built-ins.
      const { texts, types } = type as ts.TemplateLiteralType;
      const spans = types.map((t, i) => {
        const text = texts[i + 1] ?? '';
        const end = i === types.length - 1 ? f.createTemplateTail(text) : f.createTemplateMiddle(text);
        return f.createTemplateLiteralTypeSpan(this.#node(t, where), end);
      });
      return f.createTemplateLiteralType(f.createTemplateHead(texts[0] ?? ''), spans);
    }
    if (type.isNumberLiteral()) {
      return f.createLiteralTypeNode(
        type.value < 0
          ? f.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, f.createNumericLiteral(-type.value))
          : f.createNumericLiteral(type.value),
      );
    }
    if (type.flags & F.BooleanLiteral) {
      return f.createLiteralTypeNode(
        this.#checker.typeToString(type) === 'true' ? f.createTrue() : f.createFalse(),
      );
    }

    if (type.flags & F.Object) {
      const list = this.#list(type, where);
      if (list) return list;
    }
    if (type.aliasSymbol) {
      const named = this.#named(type.aliasSymbol, type.aliasTypeArguments ?? [], 'alias', type, where);
      if (named) return named;
    } else if (
      type.flags & F.Object &&
      type.symbol &&
      type.symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class)
    ) {
      const args =
        (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference
          ? this.#typeArguments(type as ts.TypeReference)
          : [];
      const named = this.#named(type.symbol, args, 'object', type, where);
      if (named) return named;
    }
    return this.#structure(type, where);
  }

  /** Arrays and tuples as `T[]` and `[A, B]`. */
  #list(type: ts.Type, where: string): ts.TypeNode | undefined {
    const f = ts.factory;
    if (this.#checker.isArrayType(type)) {
      const [element] = this.#checker.getTypeArguments(type as ts.TypeReference);
      const array = f.createArrayTypeNode(this.#node(element!, where));
      const readonly = (type as ts.TypeReference).target.symbol.name === 'ReadonlyArray';
      return readonly ? f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, array) : array;
    }
    if (this.#checker.isTupleType(type)) {
      const target = (type as ts.TypeReference).target as ts.TupleType;
      const elements = this.#checker.getTypeArguments(type as ts.TypeReference).map((t, i) => {
        const node = this.#node(t, where);
        const flags = target.elementFlags[i]!;
        if (flags & ts.ElementFlags.Optional) return f.createOptionalTypeNode(node);
        if (flags & ts.ElementFlags.Rest) return f.createRestTypeNode(f.createArrayTypeNode(node));
        if (flags & ts.ElementFlags.Variadic) return f.createRestTypeNode(node);
        return node;
      });
      const tuple = f.createTupleTypeNode(elements);
      return target.readonly ? f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, tuple) : tuple;
    }
    return undefined;
  }

  /** The structure of a type, ignoring any name it has. */
  #structure(type: ts.Type, where: string): ts.TypeNode {
    const f = ts.factory;
    if (type.isUnion()) return this.#union(type.types, where);
    if (type.isIntersection())
      return f.createIntersectionTypeNode(type.types.map((t) => this.#node(t, where)));
    return this.#object(type, where);
  }

  #union(members: readonly ts.Type[], where: string): ts.TypeNode {
    const isLiteral = (t: ts.Type, text: string) =>
      (t.flags & ts.TypeFlags.BooleanLiteral) !== 0 && this.#checker.typeToString(t) === text;
    // `boolean` is `true | false` to the checker; write it back as `boolean`.
    const booleans = members.some((t) => isLiteral(t, 'true')) && members.some((t) => isLiteral(t, 'false'));
    const nodes: ts.TypeNode[] = [];
    let booleanPlaced = false;
    for (const t of members) {
      if (booleans && t.flags & ts.TypeFlags.BooleanLiteral) {
        if (!booleanPlaced) nodes.push(keyword(ts.SyntaxKind.BooleanKeyword));
        booleanPlaced = true;
      } else {
        nodes.push(this.#node(t, where));
      }
    }
    // Written the way people write them: `string | null`, not `null | string`.
    const isEmpty = (n: ts.TypeNode) =>
      n.kind === ts.SyntaxKind.UndefinedKeyword ||
      (ts.isLiteralTypeNode(n) && n.literal.kind === ts.SyntaxKind.NullKeyword);
    const ordered = [...nodes.filter((n) => !isEmpty(n)), ...nodes.filter(isEmpty)];
    return ordered.length === 1 ? ordered[0]! : ts.factory.createUnionTypeNode(ordered);
  }

  #object(type: ts.Type, where: string): ts.TypeNode {
    const f = ts.factory;
    if (!(type.flags & ts.TypeFlags.Object)) {
      throw new Error(`${where}: cannot write the type ${this.#checker.typeToString(type)} for clients`);
    }
    if (
      this.#checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0 ||
      this.#checker.getSignaturesOfType(type, ts.SignatureKind.Construct).length > 0
    ) {
      throw new Error(
        `${where}: a function type (${this.#checker.typeToString(type)}) is not something the API can send`,
      );
    }
    if (this.#expanding.has(type)) {
      throw new Error(
        `${where}: the anonymous type ${this.#checker.typeToString(type)} refers to itself; give it a name`,
      );
    }
    this.#expanding.add(type);
    try {
      const members: ts.TypeElement[] = this.#checker
        .getPropertiesOfType(type)
        .map((property) => this.#propertySignature(property, where));
      for (const info of this.#checker.getIndexInfosOfType(type)) {
        members.push(
          f.createIndexSignature(
            info.isReadonly ? [f.createModifier(ts.SyntaxKind.ReadonlyKeyword)] : undefined,
            [
              f.createParameterDeclaration(
                undefined,
                undefined,
                'key',
                undefined,
                this.#node(info.keyType, where),
              ),
            ],
            this.#node(info.type, `${where}[key]`),
          ),
        );
      }
      return f.createTypeLiteralNode(members);
    } finally {
      this.#expanding.delete(type);
    }
  }

  #propertySignature(property: ts.Symbol, where: string): ts.PropertySignature {
    const f = ts.factory;
    if (property.name.startsWith('__@') || property.name.startsWith('__#')) {
      throw new Error(`${where}: the symbol-keyed property ${property.name} cannot be sent`);
    }
    const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
    const value = this.#checker.getTypeOfSymbol(property);
    const at = `${where}.${property.name}`;
    const node = f.createPropertySignature(
      this.#isReadonly(property) ? [f.createModifier(ts.SyntaxKind.ReadonlyKeyword)] : undefined,
      isIdentifier(property.name) ? property.name : f.createStringLiteral(property.name),
      optional ? f.createToken(ts.SyntaxKind.QuestionToken) : undefined,
      optional ? this.#optionalValue(value, at) : this.#node(value, at),
    );
    return this.#documented(node, property);
  }

  /**
   * A reference to a named type, when it has a name a client can use: TypeScript's lib and the
   * platform's globals (FormData) by name, tRPC's through an import, the workspace's own
   * non-generic types as local declarations. `undefined` means: spell the structure out.
   */
  #named(
    symbol: ts.Symbol,
    args: readonly ts.Type[],
    kind: 'alias' | 'object',
    type: ts.Type,
    where: string,
  ): ts.TypeNode | undefined {
    const f = ts.factory;
    const declaration = symbol.declarations?.[0];
    if (!declaration) return undefined;
    const file = declaration.getSourceFile();
    const argNodes = () => (args.length > 0 ? args.map((t) => this.#node(t, where)) : undefined);
    const inNodeModules = file.fileName.includes('/node_modules/');
    if (this.#program.isSourceFileDefaultLibrary(file))
      return f.createTypeReferenceNode(symbol.name, argNodes());
    if (
      /\/node_modules\/(@types\/node|undici-types)\//.test(file.fileName) &&
      this.#globals.has(symbol.name)
    ) {
      return f.createTypeReferenceNode(symbol.name, argNodes());
    }
    const trpcName = this.#trpcExports.get(symbol);
    if (trpcName) return f.createTypeReferenceNode(this.#import(trpcName), argNodes());
    if (inNodeModules) {
      // Aliases of libraries (zod's inferred shapes) and tRPC's unexported data shapes are spelled out.
      if (kind === 'alias' || /\/node_modules\/@trpc\//.test(file.fileName)) return undefined;
      throw new Error(
        `${where}: ${this.#checker.typeToString(type)} comes from ${file.fileName}; ` +
          'a client can only be given types of the workspace, TypeScript and tRPC',
      );
    }
    if (args.length > 0) return undefined;
    let name = this.#declared.get(symbol);
    if (!name) {
      name = symbol.name;
      for (let i = 2; this.#usedNames.has(name); i++) name = `${symbol.name}${i}`;
      this.#usedNames.add(name);
      this.#declared.set(symbol, name);
      const body = this.#structure(
        kind === 'alias' ? this.#checker.getDeclaredTypeOfSymbol(symbol) : type,
        symbol.name,
      );
      const alias = f.createTypeAliasDeclaration(undefined, name, undefined, body);
      this.#declarations.push(this.#documented(alias, symbol));
    }
    return f.createTypeReferenceNode(name);
  }

  #typeArguments(type: ts.TypeReference): readonly ts.Type[] {
    // References to classes and interfaces carry their `this` type as an extra, last argument.
    const count = type.target.typeParameters?.length ?? 0;
    return this.#checker.getTypeArguments(type).slice(0, count);
  }

  /**
   * An optional property's type without the "missing" marker that `exactOptionalPropertyTypes`
   * adds (a written `| undefined` is the real `undefined` and stays).
   */
  #optionalValue(type: ts.Type, where: string): ts.TypeNode {
    if (!type.isUnion()) return this.#node(type, where);
    const undefinedType = this.#checker.getUndefinedType();
    const kept = type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined) || t === undefinedType);
    if (kept.length === type.types.length) return this.#node(type, where);
    if (kept.length === 1) return this.#node(kept[0]!, where);
    return this.#union(kept, where);
  }

  #isReadonly(property: ts.Symbol): boolean {
    const declaration = property.valueDeclaration ?? property.declarations?.[0];
    if (declaration && ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Readonly) return true;
    // Properties made by mapped types (Readonly<T>) keep it in the checker's flags only.
    const checkFlags =
      (ts as unknown as { getCheckFlags?: (s: ts.Symbol) => number }).getCheckFlags?.(property) ?? 0;
    return (checkFlags & 8) !== 0;
  }

  #documented<T extends ts.Node>(node: T, symbol: ts.Symbol): T {
    const text = ts.displayPartsToString(symbol.getDocumentationComment(this.#checker)).trim();
    return text ? withDoc(node, text) : node;
  }
}

/** Puts `text` before `node` as a TSDoc comment. */
export function withDoc<T extends ts.Node>(node: T, text: string): T {
  const body = text
    .split('\n')
    // `*/` in a plugin's description would end the comment early.
    .map((line) => ` * ${line.replaceAll('*/', '*\\/')}`.trimEnd())
    .join('\n');
  ts.addSyntheticLeadingComment(node, ts.SyntaxKind.MultiLineCommentTrivia, `*\n${body}\n `, true);
  return node;
}

/** Whether `name` can be written as a property name without quotes. */
export function isIdentifier(name: string): boolean {
  return (
    name.length > 0 &&
    [...name].every((ch, i) =>
      (i === 0 ? ts.isIdentifierStart : ts.isIdentifierPart)(ch.codePointAt(0)!, ts.ScriptTarget.ESNext),
    )
  );
}

function keyword(kind: ts.KeywordTypeSyntaxKind): ts.KeywordTypeNode {
  return ts.factory.createKeywordTypeNode(kind);
}

function member(name: string, type: ts.TypeNode): ts.PropertySignature {
  return ts.factory.createPropertySignature(undefined, name, undefined, type);
}
