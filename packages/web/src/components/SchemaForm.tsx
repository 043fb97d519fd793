import { useMemo } from 'react';
import { fieldsOf, toColorInput } from '../lib/schema.ts';
import type { Field, JsonSchema } from '../lib/schema.ts';
import './SchemaForm.css';

export interface SchemaFormProps {
  /** The plugin's parameter JSON Schema (`paramsSchema` of `styles.list` / `admin.plugins`). */
  readonly schema: JsonSchema | Record<string, unknown>;
  /** The current parameters: every field's value (start from `defaults`). */
  readonly value: Readonly<Record<string, unknown>>;
  /** What "Reset to defaults" goes back to. */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly onChange: (next: Record<string, unknown>) => void;
  /** Makes the inputs' ids unique on the page (two forms may show the same plugin). */
  readonly idPrefix: string;
  readonly disabled?: boolean;
  /** @default 'Parameters' */
  readonly legend?: string;
}

/**
 * A parameter panel generated from a JSON Schema: a slider for a bounded number, a colour picker
 * for a colour, a select for an enum, a checkbox for a boolean, a text box for a string; each with
 * its description, and a reset to the defaults. Written here rather than taken from @rjsf/core:
 * these few widgets cover every plugin schema the SDK can produce, at a few KB instead of rjsf's
 * and ajv's ~100 KB, and the server validates the parameters anyway (errors come back coded).
 */
export function SchemaForm({
  schema,
  value,
  defaults,
  onChange,
  idPrefix,
  disabled = false,
  legend = 'Parameters',
}: SchemaFormProps) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const set = (name: string, next: unknown) => onChange({ ...value, [name]: next });
  return (
    <fieldset className="schema-form" disabled={disabled}>
      <legend>{legend}</legend>
      {fields.length === 0 && <p className="hint">This style has no parameters.</p>}
      {fields.map((field) => (
        <FieldInput
          key={field.name}
          field={field}
          id={`${idPrefix}-${field.name}`}
          value={value[field.name] ?? defaults[field.name]}
          onChange={(next) => set(field.name, next)}
        />
      ))}
      <button
        type="button"
        className="schema-form-reset"
        onClick={() => onChange({ ...defaults })}
        disabled={disabled}
      >
        Reset to defaults
      </button>
    </fieldset>
  );
}

function FieldInput({
  field,
  id,
  value,
  onChange,
}: {
  field: Field;
  id: string;
  value: unknown;
  onChange: (next: unknown) => void;
}) {
  const descId = field.description ? `${id}-desc` : undefined;
  const description = field.description ? (
    <span id={descId} className="hint">
      {field.description}
    </span>
  ) : null;
  switch (field.kind) {
    case 'range': {
      const n = typeof value === 'number' ? value : field.min;
      if (field.nullable)
        return <NumberField field={{ ...field, kind: 'number' }} {...{ id, value, onChange }} />;
      return (
        <div className="field schema-form-range">
          <label htmlFor={id}>{field.label}</label>
          <div className="schema-form-range-row">
            <input
              id={id}
              type="range"
              min={field.min}
              max={field.max}
              step={field.step}
              value={n}
              aria-describedby={descId}
              onChange={(e) => onChange(Number(e.currentTarget.value))}
            />
            <output htmlFor={id} aria-hidden="true">
              {formatNumber(n, field.step)}
            </output>
          </div>
          {description}
        </div>
      );
    }
    case 'number':
      return <NumberField field={field} {...{ id, value, onChange }} />;
    case 'color': {
      const hex = typeof value === 'string' ? value : '#000000';
      // <input type=color> takes #rrggbb only: an alpha suffix the value had is kept.
      const alpha = /^#[0-9a-f]{8}$/i.test(hex)
        ? hex.slice(7)
        : /^#[0-9a-f]{4}$/i.test(hex)
          ? hex.slice(4).repeat(2)
          : '';
      return (
        <div className="field schema-form-color">
          <label htmlFor={id}>{field.label}</label>
          <input
            id={id}
            type="color"
            value={toColorInput(hex)}
            aria-describedby={descId}
            onChange={(e) => onChange(e.currentTarget.value + alpha)}
          />
          {description}
        </div>
      );
    }
    case 'select':
      return (
        <div className="field">
          <label htmlFor={id}>{field.label}</label>
          <select
            id={id}
            value={typeof value === 'string' ? value : ''}
            aria-describedby={descId}
            onChange={(e) => onChange(e.currentTarget.value)}
          >
            {field.options.map((option) => (
              <option key={option} value={option}>
                {option}
              </option>
            ))}
          </select>
          {description}
        </div>
      );
    case 'checkbox':
      return (
        <div className="field schema-form-checkbox">
          <div>
            <input
              id={id}
              type="checkbox"
              checked={value === true}
              aria-describedby={descId}
              onChange={(e) => onChange(e.currentTarget.checked)}
            />{' '}
            <label htmlFor={id}>{field.label}</label>
          </div>
          {description}
        </div>
      );
    case 'text':
      return (
        <div className="field">
          <label htmlFor={id}>{field.label}</label>
          <input
            id={id}
            type="text"
            value={typeof value === 'string' ? value : ''}
            maxLength={
              field.maxLength !== undefined && field.maxLength < 100_000 ? field.maxLength : undefined
            }
            aria-describedby={descId}
            onChange={(e) => onChange(e.currentTarget.value)}
          />
          {description}
        </div>
      );
    case 'unsupported':
      return (
        <div className="field">
          <span className="schema-form-label">{field.label}</span>
          <span className="hint">Kept at its default here: {JSON.stringify(value) ?? 'none'}.</span>
          {description}
        </div>
      );
  }
}

function NumberField({
  field,
  id,
  value,
  onChange,
}: {
  field: Field & { kind: 'number' | 'range' };
  id: string;
  value: unknown;
  onChange: (next: unknown) => void;
}) {
  const descId = field.description ? `${id}-desc` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{field.label}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        min={field.min}
        max={field.max}
        step={field.step > 0 ? field.step : 'any'}
        value={typeof value === 'number' ? value : ''}
        placeholder={field.nullable ? 'Automatic' : undefined}
        aria-describedby={descId}
        onChange={(e) => {
          const text = e.currentTarget.value;
          if (text === '') {
            if (field.nullable) onChange(null);
            return;
          }
          const n = Number(text);
          if (Number.isFinite(n)) onChange(n);
        }}
      />
      {field.description && (
        <span id={descId} className="hint">
          {field.description}
          {field.nullable ? ' Leave empty for automatic.' : ''}
        </span>
      )}
    </div>
  );
}

function formatNumber(n: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(4, Math.max(0, -Math.floor(Math.log10(step))));
  return n.toFixed(decimals);
}
