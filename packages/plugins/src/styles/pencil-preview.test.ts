import { inkTable } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { previewLineField } from './pencil-preview.ts';

/** The ink of a field value, as the pencil styles look it up. */
const inkOf = (ink: Float32Array, value: number): number => {
  const i = value * 2048;
  return ink[i > 0 ? (i < 1023 ? i | 0 : 1023) : 0]!;
};

/** The largest step between neighbouring entries of the table: how near an inverted ink can be. */
const maxStep = (ink: Float32Array): number => {
  let step = 0;
  for (let i = 1; i < ink.length; i++) step = Math.max(step, ink[i - 1]! - ink[i]!);
  return step;
};

describe('previewLineField', () => {
  const ink = inkTable(0.6, 0.3 + 0.65 * 0.6);
  const w = 24;
  const h = 16;

  it('keeps paper as paper and a wide line as dark as it is', () => {
    const empty = previewLineField(new Float32Array(w * h), w, h, ink);
    expect(empty.field.every((v) => v === 0)).toBe(true);
    empty.release();
    const wide = new Float32Array(w * h).fill(0.2);
    const out = previewLineField(wide, w, h, ink);
    for (const v of out.field)
      expect(Math.abs(inkOf(ink, v) - inkOf(ink, 0.2))).toBeLessThanOrEqual(maxStep(ink));
    out.release();
  });

  it('inks a line one pixel wide as the mean of its four samples: lighter on it, some ink beside it', () => {
    const field = new Float32Array(w * h);
    const x0 = 10;
    for (let y = 0; y < h; y++) field[y * w + x0] = 0.2;
    const { field: out, release } = previewLineField(field, w, h, ink);
    const paper = ink[0]!;
    const y = 8;
    // On the line, every sample is 3/4 of it; beside it, two samples are 1/4 of it, two are paper.
    const on = inkOf(ink, out[y * w + x0]!);
    const beside = inkOf(ink, out[y * w + x0 + 1]!);
    expect(Math.abs(on - inkOf(ink, 0.15))).toBeLessThanOrEqual(maxStep(ink));
    expect(Math.abs(beside - (inkOf(ink, 0.05) + paper) / 2)).toBeLessThanOrEqual(maxStep(ink));
    expect(on).toBeGreaterThan(inkOf(ink, 0.2));
    expect(beside).toBeLessThan(paper);
    expect(out[y * w + x0 + 3]).toBe(0);
    release();
  });

  it('reuses its plane once released, and never one still in use', () => {
    const field = new Float32Array(w * h).fill(0.1);
    const first = previewLineField(field, w, h, ink);
    const second = previewLineField(field, w, h, ink);
    expect(second.field.buffer).not.toBe(first.field.buffer);
    first.release();
    const third = previewLineField(field, w, h, ink);
    expect(third.field.buffer).toBe(first.field.buffer);
    second.release();
    third.release();
  });

  it('refuses a short ink table or field', () => {
    expect(() => previewLineField(new Float32Array(w * h), w, h, new Float32Array(10))).toThrow(/ink table/);
    expect(() => previewLineField(new Float32Array(10), w, h, ink)).toThrow(/field/);
  });
});
