// fast-check arbitraries made from the JSON Schema of a plugin's parameters (`paramsJsonSchema`).
// Why JSON Schema and not the zod schema itself: zod-fast-check supports neither zod 4 nor
// fast-check 4, and the JSON Schema is the contract that forms, OpenAPI and API callers see, so
// "valid" here means what a caller is told is valid.
import fc from 'fast-check';

/** The subset of JSON Schema (2020-12) that zod's `toJSONSchema` writes for parameter objects. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly multipleOf?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly default?: unknown;
}

/** fast-check's integer arbitrary is bounded to 32 bits; wider schema bounds are clamped. */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
/** Free strings are kept short: a long random string tests nothing a short one does not. */
const FREE_STRING_MAX = 24;
/** Free arrays likewise. */
const FREE_ARRAY_MAX = 6;

const types = (schema: JsonSchema): readonly string[] =>
  schema.type === undefined ? [] : typeof schema.type === 'string' ? [schema.type] : schema.type;

const branches = (schema: JsonSchema): readonly JsonSchema[] | undefined => schema.anyOf ?? schema.oneOf;

function numberBounds(schema: JsonSchema): {
  min: number;
  max: number;
  minExcluded: boolean;
  maxExcluded: boolean;
} {
  const lo = schema.exclusiveMinimum ?? schema.minimum;
  const hi = schema.exclusiveMaximum ?? schema.maximum;
  return {
    min: lo ?? -Number.MAX_VALUE,
    max: hi ?? Number.MAX_VALUE,
    minExcluded: schema.exclusiveMinimum !== undefined,
    maxExcluded: schema.exclusiveMaximum !== undefined,
  };
}

function integerBounds(schema: JsonSchema): { min: number; max: number } {
  const { min, max, minExcluded, maxExcluded } = numberBounds(schema);
  const lo = minExcluded ? Math.floor(min) + 1 : Math.ceil(min);
  const hi = maxExcluded ? Math.ceil(max) - 1 : Math.floor(max);
  return { min: Math.max(INT_MIN, lo), max: Math.min(INT_MAX, hi) };
}

/**
 * Values the schema accepts. Keys that are not `required` (those with defaults) are sometimes
 * left out, so defaults get exercised too.
 */
export function validValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  const alternatives = branches(schema);
  if (alternatives) return fc.oneof(...alternatives.map(validValue));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const kinds = types(schema);
  if (kinds.length > 1) return fc.oneof(...kinds.map((type) => validValue({ ...schema, type })));
  switch (kinds[0] ?? 'any') {
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'integer': {
      const { min, max } = integerBounds(schema);
      // Integers are often sizes or offsets in pixels: besides the whole range, try small ones,
      // which fit the small sample images.
      return fc.oneof(
        fc.integer({ min, max }),
        fc.integer({ min, max: Math.min(max, Math.max(min, 0) + 128) }),
      );
    }
    case 'number': {
      const { min, max, minExcluded, maxExcluded } = numberBounds(schema);
      const numbers = fc.double({ min, max, minExcluded, maxExcluded, noNaN: true, noDefaultInfinity: true });
      const step = schema.multipleOf;
      return step === undefined
        ? numbers
        : numbers.map((n) => Math.round(n / step) * step).filter((n) => n >= min && n <= max);
    }
    case 'string': {
      if (schema.pattern !== undefined) {
        const pattern = new RegExp(schema.pattern, 'u');
        const minLength = schema.minLength ?? 0;
        const maxLength = schema.maxLength ?? Infinity;
        return fc.stringMatching(pattern).filter((s) => s.length >= minLength && s.length <= maxLength);
      }
      const minLength = schema.minLength ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? FREE_STRING_MAX, FREE_STRING_MAX));
      return fc.string({ minLength, maxLength });
    }
    case 'array':
      return fc.array(schema.items ? validValue(schema.items) : fc.constant(null), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(
          schema.minItems ?? 0,
          Math.min(schema.maxItems ?? FREE_ARRAY_MAX, FREE_ARRAY_MAX),
        ),
      });
    case 'object':
      return validObject(schema);
    default:
      // A part of the schema JSON Schema cannot describe (a custom type, a transform): only its
      // default is known to be valid.
      return schema.default === undefined ? fc.constant(undefined) : fc.constant(schema.default);
  }
}

/** Objects the schema accepts (the parameter set as a whole). */
export function validObject(schema: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, property] of Object.entries(properties)) model[key] = validValue(property);
  return fc
    .record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in properties) })
    .map((value) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)));
}

/** A value that breaks `schema`, and what is wrong with it, for the report. */
export interface InvalidValue {
  readonly value: unknown;
  readonly why: string;
}

function accepts(schema: JsonSchema, value: unknown): boolean {
  const alternatives = branches(schema);
  if (alternatives) return alternatives.some((branch) => accepts(branch, value));
  if (schema.const !== undefined) return Object.is(schema.const, value);
  if (schema.enum) return schema.enum.some((option) => Object.is(option, value));
  const kinds = types(schema);
  if (kinds.length === 0) return true;
  return kinds.some((type) => {
    switch (type) {
      case 'boolean':
        return typeof value === 'boolean';
      case 'null':
        return value === null;
      case 'integer':
      case 'number': {
        if (typeof value !== 'number' || !Number.isFinite(value)) return false;
        if (type === 'integer' && !Number.isInteger(value)) return false;
        const { min, max, minExcluded, maxExcluded } = numberBounds(schema);
        return (minExcluded ? value > min : value >= min) && (maxExcluded ? value < max : value <= max);
      }
      case 'string':
        return (
          typeof value === 'string' &&
          value.length >= (schema.minLength ?? 0) &&
          value.length <= (schema.maxLength ?? Infinity) &&
          (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value))
        );
      case 'array':
        return Array.isArray(value);
      case 'object':
        return value !== null && typeof value === 'object' && !Array.isArray(value);
      default:
        return true;
    }
  });
}

/** Candidate values that break `schema`; only those it really refuses are kept. */
function invalidCandidates(schema: JsonSchema): fc.Arbitrary<InvalidValue>[] {
  const candidates: fc.Arbitrary<InvalidValue>[] = [];
  const why = (reason: string) => (value: unknown) => ({ value, why: reason });
  // Wrong types: every schema refuses at least one of these.
  candidates.push(
    fc.constantFrom<unknown>('not-a-value', 12345, true, null, [1, 2], { nested: 1 }).map(why('wrong type')),
  );
  const alternatives = branches(schema);
  const kinds = types(schema);
  if (!alternatives && (kinds.includes('number') || kinds.includes('integer'))) {
    const lo = schema.exclusiveMinimum ?? schema.minimum;
    const hi = schema.exclusiveMaximum ?? schema.maximum;
    if (lo !== undefined) {
      const below = fc.double({ min: 1e-6, max: 1e6, noNaN: true }).map((d) => lo - d);
      candidates.push(
        (kinds.includes('integer') ? below.map(Math.floor) : below).map(why(`below the minimum ${lo}`)),
      );
    }
    if (hi !== undefined) {
      const above = fc.double({ min: 1e-6, max: 1e6, noNaN: true }).map((d) => hi + d);
      candidates.push(
        (kinds.includes('integer') ? above.map(Math.ceil) : above).map(why(`above the maximum ${hi}`)),
      );
    }
    if (kinds.includes('integer') && !kinds.includes('number')) {
      const { min, max } = integerBounds(schema);
      if (min < max)
        candidates.push(
          fc
            .integer({ min, max: max - 1 })
            .map((n) => n + 0.5)
            .map(why('not an integer')),
        );
    }
  }
  if (!alternatives && kinds.includes('string')) {
    if (schema.enum)
      candidates.push(
        fc
          .string({ maxLength: 12 })
          .map((s) => `${s}?`)
          .map(why('not one of the options')),
      );
    if (schema.pattern !== undefined) {
      candidates.push(
        fc
          .constantFrom('', 'zz', '#', '#ggg', 'red', '#12345', '0x123456')
          .map(why(`not matching ${schema.pattern}`)),
        fc.string({ maxLength: 12 }).map(why(`not matching ${schema.pattern}`)),
      );
    }
    if (schema.maxLength !== undefined) {
      candidates.push(
        fc.constant('x'.repeat(schema.maxLength + 1)).map(why(`longer than ${schema.maxLength}`)),
      );
    }
    if (schema.minLength !== undefined && schema.minLength > 0) {
      candidates.push(
        fc.constant('x'.repeat(schema.minLength - 1)).map(why(`shorter than ${schema.minLength}`)),
      );
    }
  }
  if (!alternatives && schema.enum && !kinds.includes('string')) {
    candidates.push(fc.constant('not-an-option').map(why('not one of the options')));
  }
  return candidates.map((arbitrary) => arbitrary.filter(({ value }) => !accepts(schema, value)));
}

/** A parameter set that breaks the schema in one place, with what was broken. */
export interface InvalidParams {
  readonly params: Record<string, unknown>;
  /** The broken key (or the unknown one added). */
  readonly key: string;
  readonly why: string;
}

/**
 * Parameter sets the schema refuses: a valid set with one key given a bad value (out of range,
 * wrong type, not an integer, not an option, not matching its pattern, too long), or an unknown key.
 */
export function invalidObject(schema: JsonSchema): fc.Arbitrary<InvalidParams> {
  const valid = validObject(schema);
  const unknownKey = fc
    .tuple(valid, fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/), fc.constantFrom<unknown>(1, 'x', true))
    .filter(([, key]) => !(key in (schema.properties ?? {})))
    .map(([params, key, value]) => ({ params: { ...params, [key]: value }, key, why: 'unknown key' }));
  // A property without a type, options or alternatives accepts anything: nothing can break it.
  const constrained = (property: JsonSchema): boolean =>
    types(property).length > 0 ||
    property.enum !== undefined ||
    property.const !== undefined ||
    branches(property) !== undefined;
  const broken = Object.entries(schema.properties ?? {})
    .filter(([, property]) => constrained(property))
    .flatMap(([key, property]) =>
      invalidCandidates(property).map((bad) =>
        fc
          .tuple(valid, bad)
          .map(([params, { value, why }]) => ({ params: { ...params, [key]: value }, key, why })),
      ),
    );
  return fc.oneof(unknownKey, ...broken);
}
