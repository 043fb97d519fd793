/**
 * Turns a plugin's parameter JSON Schema (2020-12, as `styles.list` sends it) into form fields, so
 * any plugin (a third party's included) gets a panel with no change to the web app. Pure: no DOM.
 */

/** A JSON Schema node, as far as the form reads it. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly title?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly multipleOf?: number;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly format?: string;
  readonly maxLength?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
}

interface FieldBase {
  readonly name: string;
  readonly label: string;
  readonly description?: string;
  /** `null` is allowed (e.g. "derive it from the aspect ratio"): the form offers an "automatic" choice. */
  readonly nullable: boolean;
}
export type Field =
  | (FieldBase & {
      readonly kind: 'range';
      readonly min: number;
      readonly max: number;
      readonly step: number;
    })
  | (FieldBase & {
      readonly kind: 'number';
      readonly min?: number;
      readonly max?: number;
      readonly step: number;
    })
  | (FieldBase & { readonly kind: 'color' })
  | (FieldBase & { readonly kind: 'select'; readonly options: readonly string[] })
  | (FieldBase & { readonly kind: 'checkbox' })
  | (FieldBase & { readonly kind: 'text'; readonly maxLength?: number })
  /** A parameter the form cannot edit (arrays, objects…): shown, left at its default. */
  | (FieldBase & { readonly kind: 'unsupported' });

/** The widest bounded range still usable as a slider; wider ones get a number box. */
const MAX_SLIDER_SPAN = 1000;

/** "edgeStrength" → "Edge strength", "dot_size" → "Dot size". */
export function humanize(name: string): string {
  const words = name
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function typesOf(node: JsonSchema): string[] {
  if (node.type === undefined) return [];
  return typeof node.type === 'string' ? [node.type] : [...node.type];
}

/** A step that gives about 100 notches over the range, rounded to 1, 2 or 5 times a power of ten. */
export function niceStep(min: number, max: number, integer: boolean): number {
  if (integer) return 1;
  const raw = (max - min) / 100;
  if (!(raw > 0)) return 0.01;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return Number((nice * power).toPrecision(6));
}

function isColour(node: JsonSchema): boolean {
  return node.format === 'color' || (node.pattern !== undefined && node.pattern.startsWith('^#'));
}

function fieldOf(name: string, node: JsonSchema): Field {
  // `anyOf: [{ type: 'integer', … }, { type: 'null' }]` is a nullable field of the other branch.
  const branches = node.anyOf ?? node.oneOf;
  let inner: JsonSchema = node;
  let nullable = false;
  if (branches) {
    const others = branches.filter((b) => !typesOf(b).includes('null') || typesOf(b).length > 1);
    nullable = others.length < branches.length;
    if (others.length === 1 && others[0]) inner = others[0];
    else if (others.length !== 1) {
      return { name, label: node.title ?? humanize(name), ...desc(node), nullable, kind: 'unsupported' };
    }
  }
  const types = typesOf(inner).filter((t) => t !== 'null');
  if (typesOf(inner).includes('null')) nullable = true;
  const base = { name, label: node.title ?? inner.title ?? humanize(name), ...desc(node, inner), nullable };
  if (inner.enum && inner.enum.every((v) => typeof v === 'string'))
    return { ...base, kind: 'select', options: inner.enum as readonly string[] };
  const type = types[0];
  if (type === 'boolean') return { ...base, kind: 'checkbox' };
  if (type === 'number' || type === 'integer') {
    const integer = type === 'integer';
    const min = inner.minimum ?? inner.exclusiveMinimum;
    const max = inner.maximum ?? inner.exclusiveMaximum;
    if (min !== undefined && max !== undefined && max - min <= MAX_SLIDER_SPAN)
      return { ...base, kind: 'range', min, max, step: inner.multipleOf ?? niceStep(min, max, integer) };
    return {
      ...base,
      kind: 'number',
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      // 0: any value (the input's step="any").
      step: inner.multipleOf ?? (integer ? 1 : 0),
    };
  }
  if (type === 'string') {
    if (isColour(inner)) return { ...base, kind: 'color' };
    return {
      ...base,
      kind: 'text',
      ...(inner.maxLength !== undefined ? { maxLength: inner.maxLength } : {}),
    };
  }
  return { ...base, kind: 'unsupported' };
}

function desc(...nodes: JsonSchema[]): { description?: string } {
  const description = nodes.find((n) => n.description)?.description;
  return description ? { description } : {};
}

/** The form fields of an object schema, in the schema's order. */
export function fieldsOf(schema: JsonSchema | Record<string, unknown>): Field[] {
  const properties = (schema as JsonSchema).properties ?? {};
  return Object.entries(properties).map(([name, node]) => fieldOf(name, node));
}

/**
 * `#rgb`, `#rgba`, `#rrggbbaa` → the `#rrggbb` an `<input type=color>` needs (alpha is kept aside
 * by the caller); anything else → black.
 */
export function toColorInput(value: unknown): string {
  if (typeof value !== 'string') return '#000000';
  const hex = value.toLowerCase();
  if (/^#[0-9a-f]{3,4}$/.test(hex)) return `#${[...hex.slice(1, 4)].map((c) => c + c).join('')}`;
  if (/^#[0-9a-f]{6}([0-9a-f]{2})?$/.test(hex)) return hex.slice(0, 7);
  return '#000000';
}

/** The parameters that differ from the defaults: what a job or preview needs to send. */
export function changedFrom(
  value: Readonly<Record<string, unknown>>,
  defaults: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (JSON.stringify(v) !== JSON.stringify(defaults[key])) out[key] = v;
  }
  return out;
}
