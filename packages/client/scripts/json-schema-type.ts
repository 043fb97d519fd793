// A plugin's parameters as a TypeScript type, from the JSON Schema the registry publishes for them
// (`paramsJsonSchema`: zod's `toJSONSchema`, draft 2020-12, `io: 'input'`), for the generated
// client (generate.ts). What a type can say is kept: primitive types, `enum`/`const` as literal
// unions, required and optional properties, arrays and tuples, unions, and closed objects, so an
// unknown key in an object literal is a compile error. What it cannot say (minimum, maximum,
// pattern, lengths) stays with the server, which checks every value when the job is submitted.
//
// Why not json-schema-to-typescript: it writes source text (to be parsed again before the contract
// printer can place it inside `jobs.create`), opens every object that does not say
// `additionalProperties: false` with `[k: string]: unknown` (zod's input schemas never say it, so
// unknown keys would compile), and brings a dozen dependencies for the handful of keywords zod
// writes. This converter makes the printer's own AST nodes and is about a hundred lines.
import ts from 'typescript';
import { isIdentifier, withDoc } from './router-contract.ts';

/** A JSON Schema: an object of keywords, or `true`/`false`. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

const f = ts.factory;

/**
 * The TypeScript type of the values `schema` accepts, as far as a type can say. `where` names the
 * schema in errors (a `type` this converter does not know is a plain Error: the schema is not one
 * zod writes).
 *
 * @example
 * jsonSchemaType({ type: 'object', properties: { tiles: { type: 'integer' } } }, 'acme:mosaic')
 * // → { tiles?: number }
 */
export function jsonSchemaType(schema: JsonSchema, where: string): ts.TypeNode {
  return new Converter(schema, where).type(schema, where);
}

class Converter {
  readonly #root: JsonSchema;
  readonly #where: string;
  /** `$ref`s being expanded: a schema that refers to itself is `unknown` where it recurs. */
  readonly #expanding = new Set<string>();

  constructor(root: JsonSchema, where: string) {
    this.#root = root;
    this.#where = where;
  }

  type(schema: JsonSchema, at: string): ts.TypeNode {
    if (schema === true) return keyword(ts.SyntaxKind.UnknownKeyword);
    if (schema === false) return keyword(ts.SyntaxKind.NeverKeyword);
    if (typeof schema.$ref === 'string') return this.#ref(schema.$ref, at);
    if ('const' in schema) return literal(schema.const, at);
    if (Array.isArray(schema.enum)) return union(schema.enum.map((v: unknown) => literal(v, at)));
    for (const key of ['anyOf', 'oneOf'] as const) {
      const members = schema[key];
      if (Array.isArray(members)) return union(members.map((m: JsonSchema) => this.type(m, at)));
    }
    if (Array.isArray(schema.allOf)) {
      return f.createIntersectionTypeNode(schema.allOf.map((m: JsonSchema) => this.type(m, at)));
    }
    const { type } = schema;
    if (Array.isArray(type)) return union(type.map((t: unknown) => this.#ofType(schema, t, at)));
    if (type === undefined) {
      // No `type`: an object if it describes properties, anything otherwise (`z.unknown()`).
      return 'properties' in schema || 'additionalProperties' in schema
        ? this.#object(schema, at)
        : keyword(ts.SyntaxKind.UnknownKeyword);
    }
    return this.#ofType(schema, type, at);
  }

  #ofType(schema: { readonly [keyword: string]: unknown }, type: unknown, at: string): ts.TypeNode {
    switch (type) {
      case 'string':
        return keyword(ts.SyntaxKind.StringKeyword);
      case 'number':
      case 'integer':
        return keyword(ts.SyntaxKind.NumberKeyword);
      case 'boolean':
        return keyword(ts.SyntaxKind.BooleanKeyword);
      case 'null':
        return f.createLiteralTypeNode(f.createNull());
      case 'array':
        return this.#array(schema, at);
      case 'object':
        return this.#object(schema, at);
      default:
        throw new Error(
          `${at}: JSON Schema type ${JSON.stringify(type)} is not one a client can be typed with`,
        );
    }
  }

  #array(schema: { readonly [keyword: string]: unknown }, at: string): ts.TypeNode {
    const items = schema.items as JsonSchema | undefined;
    if (Array.isArray(schema.prefixItems)) {
      const minItems = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const elements: ts.TypeNode[] = schema.prefixItems.map((s: JsonSchema, i: number) => {
        const node = this.type(s, `${at}[${i}]`);
        return i < minItems ? node : f.createOptionalTypeNode(node);
      });
      if (items !== undefined && items !== false) {
        elements.push(f.createRestTypeNode(f.createArrayTypeNode(this.type(items, `${at}[]`))));
      }
      return f.createTupleTypeNode(elements);
    }
    const element = items === undefined ? keyword(ts.SyntaxKind.UnknownKeyword) : this.type(items, `${at}[]`);
    return f.createArrayTypeNode(element);
  }

  #object(schema: { readonly [keyword: string]: unknown }, at: string): ts.TypeNode {
    const properties = (schema.properties ?? {}) as Readonly<Record<string, JsonSchema>>;
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    const members: ts.TypeElement[] = Object.entries(properties).map(([name, property]) => {
      const value = this.type(property, `${at}.${name}`);
      const optional = !required.has(name);
      const node = f.createPropertySignature(
        undefined,
        isIdentifier(name) ? name : f.createStringLiteral(name),
        optional ? f.createToken(ts.SyntaxKind.QuestionToken) : undefined,
        // `| undefined` as zod's inferred input types have it: under exactOptionalPropertyTypes a
        // form may still send `{ tiles: undefined }`, which JSON leaves out.
        optional ? union([value, keyword(ts.SyntaxKind.UndefinedKeyword)]) : value,
      );
      return documented(node, property);
    });
    // Closed unless the schema opens it: zod's input schemas leave `additionalProperties` out, and
    // the server refuses unknown parameters by name (parseParams), so the type refuses them too.
    const additional = schema.additionalProperties as JsonSchema | undefined;
    if (additional !== undefined && additional !== false) {
      // With named properties beside it, the index signature must admit their types too.
      const value =
        members.length > 0 || additional === true
          ? keyword(ts.SyntaxKind.UnknownKeyword)
          : this.type(additional, `${at}[key]`);
      members.push(
        f.createIndexSignature(
          undefined,
          [
            f.createParameterDeclaration(
              undefined,
              undefined,
              'key',
              undefined,
              keyword(ts.SyntaxKind.StringKeyword),
            ),
          ],
          value,
        ),
      );
    }
    return f.createTypeLiteralNode(members);
  }

  #ref(ref: string, at: string): ts.TypeNode {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const defs =
      match && typeof this.#root === 'object'
        ? (this.#root[match[1]!] as Readonly<Record<string, JsonSchema>> | undefined)
        : undefined;
    const target = match
      ? defs?.[decodeURIComponent(match[2]!.replaceAll('~1', '/').replaceAll('~0', '~'))]
      : undefined;
    if (target === undefined) throw new Error(`${at}: cannot resolve $ref ${ref} in ${this.#where}'s schema`);
    if (this.#expanding.has(ref)) return keyword(ts.SyntaxKind.UnknownKeyword);
    this.#expanding.add(ref);
    try {
      return this.type(target, at);
    } finally {
      this.#expanding.delete(ref);
    }
  }
}

/** Adds the schema's `description` (and `default`) as the property's TSDoc. */
function documented<T extends ts.Node>(node: T, schema: JsonSchema): T {
  if (typeof schema !== 'object') return node;
  const lines: string[] = [];
  if (typeof schema.description === 'string') lines.push(schema.description);
  if (schema.default !== undefined) lines.push(`@default ${JSON.stringify(schema.default)}`);
  return lines.length === 0 ? node : withDoc(node, lines.join('\n'));
}

function literal(value: unknown, at: string): ts.TypeNode {
  if (typeof value === 'string') return f.createLiteralTypeNode(f.createStringLiteral(value));
  if (typeof value === 'number') {
    return f.createLiteralTypeNode(
      value < 0
        ? f.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, f.createNumericLiteral(-value))
        : f.createNumericLiteral(value),
    );
  }
  if (typeof value === 'boolean') return f.createLiteralTypeNode(value ? f.createTrue() : f.createFalse());
  if (value === null) return f.createLiteralTypeNode(f.createNull());
  throw new Error(`${at}: the value ${JSON.stringify(value)} cannot be written as a literal type`);
}

function union(nodes: readonly ts.TypeNode[]): ts.TypeNode {
  if (nodes.length === 0) return keyword(ts.SyntaxKind.NeverKeyword);
  // `A | B | C`, not `(A | B) | C`; the factory adds the parentheses precedence needs (`(A | B)[]`).
  const flat = nodes.flatMap((n) => (ts.isUnionTypeNode(n) ? [...n.types] : [n]));
  return flat.length === 1 ? flat[0]! : f.createUnionTypeNode(flat);
}

function keyword(kind: ts.KeywordTypeSyntaxKind): ts.KeywordTypeNode {
  return f.createKeywordTypeNode(kind);
}
