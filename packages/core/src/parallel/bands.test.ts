import { describe, expect, it } from 'vitest';
import { bandKernel, bandStart, bandThreads, isShared, runBands, sharedArray, toShared } from './bands.ts';

const ranges: [number, number][] = [];
const record = bandKernel(import.meta.url, 'record', (a: { out: Int32Array }, start: number, end: number) => {
  ranges.push([start, end]);
  for (let i = start; i < end; i++) a.out[i] = i * 2;
});

describe('runBands outside the engine', () => {
  it('has one thread and runs the whole range once', () => {
    ranges.length = 0;
    expect(bandThreads()).toBe(1);
    const out = sharedArray(Int32Array, 100);
    runBands(record, { out }, 100);
    expect(ranges).toEqual([[0, 100]]);
    expect(out[99]).toBe(198);
  });

  it('with progress, runs bands that tile the range in order and reports each', () => {
    ranges.length = 0;
    const fractions: number[] = [];
    const out = new Int32Array(100);
    runBands(record, { out }, 100, { progress: (f) => fractions.push(f), minBand: 10, bandsPerThread: 4 });
    expect(ranges).toEqual([
      [0, 25],
      [25, 50],
      [50, 75],
      [75, 100],
    ]);
    expect(fractions).toEqual([0.25, 0.5, 0.75, 1]);
    expect(Array.from(out)).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
  });

  it('stops between bands when the signal is aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    expect(() => runBands(record, { out: new Int32Array(4) }, 4, { signal: controller.signal })).toThrow(
      'stop',
    );
  });

  it('bandStart splits a range into bands that differ by at most one', () => {
    const starts = Array.from({ length: 8 }, (_, i) => bandStart(i, 7, 100));
    expect(starts).toEqual([0, 14, 28, 42, 57, 71, 85, 100]);
  });
});

describe('shared arrays', () => {
  it('sharedArray allocates a zeroed ordinary array when the step has one thread (the sandbox has no shared memory)', () => {
    const a = sharedArray(Float32Array, 8);
    expect(a).toBeInstanceOf(Float32Array);
    expect(isShared(a)).toBe(false);
    expect(Array.from(a)).toEqual(new Array(8).fill(0));
  });

  it('toShared keeps an array as it is when the step has one thread', () => {
    const a = new Uint8Array([1, 2, 3]);
    expect(toShared(a)).toBe(a);
  });

  it('bandKernel refuses a kernel without a module, name or function', () => {
    expect(() => bandKernel(import.meta.url, 'x', undefined as never)).toThrow('bandKernel');
  });
});
