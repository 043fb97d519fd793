import { describe, expect, it } from 'vitest';
import { ThinLines, ThinRowsAhead, thinLines } from './thin-lines.ts';
import type { ThinLinesGate } from './thin-lines.ts';

/** A flat `level` plane with a 1 px line of `tone` through (cx, cy) at `angle` degrees (y down). */
function lineOnFlat(w: number, h: number, level: number, tone: number, angle: number): Uint8Array {
  const plane = new Uint8Array(w * h).fill(level);
  const a = (angle * Math.PI) / 180;
  const [dx, dy] = [Math.cos(a), -Math.sin(a)];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const across = Math.abs(-(x - w / 2) * dy + (y - h / 2) * dx);
      const cover = Math.min(1, Math.max(0, 1 - across));
      plane[y * w + x] = Math.round(level * (1 - cover) + tone * cover);
    }
  return plane;
}

/** Mean strength over the pixels nearest the line's centre, away from the image's borders. */
function onLine(plane: Uint8Array, w: number, h: number, angle: number): number {
  const a = (angle * Math.PI) / 180;
  let s = 0;
  let n = 0;
  for (let t = -20; t <= 20; t++) {
    const x = Math.round(w / 2 + t * Math.cos(a));
    const y = Math.round(h / 2 - t * Math.sin(a));
    s += plane[y * w + x]!;
    n++;
  }
  return s / n / 255;
}

/** Dark and light rows for two ThinLines side by side: [dark, light, dark, light]. */
function fourRows(w: number): readonly [Float32Array, Float32Array, Float32Array, Float32Array] {
  return [new Float32Array(w), new Float32Array(w), new Float32Array(w), new Float32Array(w)];
}

describe('thinLines', () => {
  it.each([0, 30, 45, 60, 90, 135])('finds a 1 px dark line and a 1 px light line at %i°', (angle) => {
    const [w, h] = [64, 64];
    const dark = thinLines({ luma: lineOnFlat(w, h, 180, 60, angle), width: w, height: h });
    expect(onLine(dark.dark, w, h, angle)).toBeGreaterThan(0.6);
    expect(onLine(dark.light, w, h, angle)).toBe(0);
    const light = thinLines({ luma: lineOnFlat(w, h, 150, 250, angle), width: w, height: h });
    expect(onLine(light.light, w, h, angle)).toBeGreaterThan(0.6);
    expect(onLine(light.dark, w, h, angle)).toBe(0);
    // Nothing 4 px beside the line.
    const a = (angle * Math.PI) / 180;
    const x = Math.round(w / 2 - 4 * Math.sin(a));
    const y = Math.round(h / 2 - 4 * Math.cos(a));
    expect(light.light[y * w + x]).toBe(0);
    expect(dark.dark[y * w + x]).toBe(0);
  });

  it('draws nothing along a step edge or on flat areas', () => {
    const [w, h] = [40, 30];
    const luma = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) luma[y * w + x] = x < 20 ? 40 : 220;
    const { dark, light } = thinLines({ luma, width: w, height: h });
    expect(Math.max(...dark)).toBe(0);
    expect(Math.max(...light)).toBe(0);
  });

  it('leaves out a lone speck where a line of its contrast draws', () => {
    const [w, h] = [32, 32];
    const speck = new Uint8Array(w * h).fill(200);
    speck[16 * w + 16] = 255;
    speck[8 * w + 8] = 40;
    const specks = thinLines({ luma: speck, width: w, height: h });
    expect(Math.max(...specks.light)).toBe(0);
    expect(Math.max(...specks.dark)).toBe(0);
    const line = thinLines({ luma: lineOnFlat(w, h, 200, 255, 90), width: w, height: h });
    expect(line.light[16 * w + 16]).toBeGreaterThan(60);
    const dark = thinLines({ luma: lineOnFlat(w, h, 200, 40, 90), width: w, height: h });
    expect(dark.dark[16 * w + 16]).toBeGreaterThan(200);
  });

  it('leaves faint lines out and saturates strong ones (the soft threshold)', () => {
    const [w, h] = [32, 32];
    const strength = (tone: number): number =>
      thinLines({ luma: lineOnFlat(w, h, 160, tone, 90), width: w, height: h }).dark[16 * w + 16]! / 255;
    expect(strength(150)).toBe(0);
    expect(strength(110)).toBeGreaterThan(0.4);
    expect(strength(20)).toBeGreaterThan(0.95);
    expect(strength(20)).toBeGreaterThan(strength(110));
    // A higher threshold drops the weaker line.
    const strict = thinLines({ luma: lineOnFlat(w, h, 160, 110, 90), width: w, height: h, threshold: 0.3 });
    expect(strict.dark[16 * w + 16]).toBe(0);
  });

  it('finds lines up to the borders, and rows match the whole planes', () => {
    const [w, h] = [9, 7];
    const luma = new Uint8Array(w * h).fill(200);
    for (let y = 0; y < h; y++) luma[y * w + 1] = 40; // a dark line one pixel from the left border
    for (let x = 0; x < w; x++) luma[5 * w + x] = 255; // a light line near the bottom (crossing it)
    const planes = thinLines({ luma, width: w, height: h });
    expect(planes.dark[2 * w + 1]).toBeGreaterThan(200);
    expect(planes.light[5 * w + 6]).toBeGreaterThan(0);
    const lines = new ThinLines({ luma, width: w, height: h });
    const dark = new Float32Array(w);
    const light = new Float32Array(w);
    lines.row(5, dark, light);
    expect(Array.from(dark, (v) => Math.round(v * 255))).toEqual(
      Array.from(planes.dark.subarray(5 * w, 6 * w)),
    );
    expect(Array.from(light, (v) => Math.round(v * 255))).toEqual(
      Array.from(planes.light.subarray(5 * w, 6 * w)),
    );
  });

  it('computes the luma in a plane it is given, with the same lines', () => {
    const [w, h] = [12, 9];
    const rgb = new Uint8Array(w * h * 3).fill(210);
    for (let y = 0; y < h; y++) rgb.fill(30, (y * w + 5) * 3, (y * w + 6) * 3); // a dark column
    const image = { data: rgb, width: w, height: h, channels: 3 as const };
    const into = new Uint8Array(w * h + 40).fill(7);
    const own = ThinLines.ofImage(image);
    const given = ThinLines.ofImage(image, { into });
    expect(given.luma.buffer).toBe(into.buffer);
    expect(Array.from(given.luma)).toEqual(Array.from(own.luma));
    const rows = fourRows(w);
    const hits = own.row(4, rows[0], rows[1]);
    expect(hits).toBeGreaterThan(0);
    expect(given.row(4, rows[2], rows[3])).toBe(hits);
    expect(Array.from(rows[2])).toEqual(Array.from(rows[0]));
    expect(Array.from(rows[3])).toEqual(Array.from(rows[1]));
  });

  it('rejects planes that do not match their size', () => {
    expect(() => new ThinLines({ luma: new Uint8Array(10), width: 4, height: 4 })).toThrow(/too small/);
    expect(() => new ThinLines({ luma: new Uint8Array(10), width: 0, height: 4 })).toThrow(/positive/);
    const lines = new ThinLines({ luma: new Uint8Array(16), width: 4, height: 4 });
    expect(() => lines.row(0, new Float32Array(2), new Float32Array(4))).toThrow(/too small/);
  });

  describe('densityGate', () => {
    /** A 256 x 256 plane: a line on flat sky at the left, and at the right "gravel": 1 px dark gaps in a grid of 3 px stones. */
    function lineAndGravel(): { luma: Uint8Array; w: number; h: number } {
      const [w, h] = [256, 256];
      const luma = lineOnFlat(w, h, 180, 60, 90); // a vertical 1 px line through x = 128
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (x >= 128 - 40 && x < 128 + 40) continue; // the sky around the line
          const gap = x % 4 === 0 || y % 4 === 0;
          if (x >= 128 + 40) luma[y * w + x] = gap ? 60 : 180;
          else luma[y * w + x] = 180;
        }
      }
      return { luma, w, h };
    }

    it('keeps a lone line in full and drops the lines of dense texture', () => {
      const { luma, w, h } = lineAndGravel();
      const plain = new ThinLines({ luma, width: w, height: h });
      const gate = plain.densityGate();
      const gated = new ThinLines({ luma, width: w, height: h, gate });
      const rows = fourRows(w);
      let line = [0, 0];
      let gravel = [0, 0];
      for (let y = 40; y < h - 40; y++) {
        plain.row(y, rows[0], rows[1]);
        const n = gated.row(y, rows[2], rows[3]);
        line = [line[0]! + rows[0][128]!, line[1]! + rows[2][128]!];
        for (let x = 128 + 64; x < w - 8; x++) gravel = [gravel[0]! + rows[0][x]!, gravel[1]! + rows[2][x]!];
        // The hits it reports are the columns left with a line.
        for (let k = 0; k < n; k++)
          expect(rows[2][gated.hits[k]!]! + rows[3][gated.hits[k]!]!).toBeGreaterThan(0);
      }
      expect(line[0]).toBeGreaterThan(100); // found on every row
      expect(line[1]).toBe(line[0]); // and kept as it was
      expect(gravel[0]).toBeGreaterThan(1000); // the gaps between the stones are lines too...
      expect(gravel[1]).toBe(0); // ...dropped where they are dense
    });

    it.each([4, 3, 8])(
      'gated rows are the plain rows times the bilinear gate, dropping zeros (step %i; columns where the gate is 0 are not searched)',
      (step) => {
        const { luma, w, h } = lineAndGravel();
        const plain = new ThinLines({ luma, width: w, height: h });
        const gw = Math.ceil(w / step);
        const gh = Math.ceil(h / step);
        // The density gate (0 over the gravel), with zeros cut into it as well: single columns,
        // columns at both borders, a run that ends one column before the last, and rows of them.
        const gate = plain.densityGate({ step });
        expect([gate.width, gate.height]).toEqual([gw, gh]);
        for (let j = 0; j < gh; j++)
          for (let i = 0; i < gw; i++)
            if (i === 0 || i === gw - 1 || i % 7 === 3 || (i >= 2 && i < gw - 2 && j % 5 === 1))
              gate.plane[j * gw + i] = 0;
        const gated = new ThinLines({ luma, width: w, height: h, gate });
        const [pd, pl, gd, gl] = fourRows(w);
        let kept = 0;
        for (let y = 0; y < h; y++) {
          const n = plain.row(y, pd, pl);
          const expected: number[] = [];
          let v = (y + 0.5) / step - 0.5;
          v = Math.min(gh - 1, Math.max(0, v));
          const [j0, fy] = [Math.floor(v), v - Math.floor(v)];
          const j1 = Math.min(gh - 1, j0 + 1);
          const ed = new Float32Array(w);
          const el = new Float32Array(w);
          for (let k = 0; k < n; k++) {
            const x = plain.hits[k]!;
            let u = (x + 0.5) / step - 0.5;
            u = Math.min(gw - 1, Math.max(0, u));
            const [i0, fx] = [Math.floor(u), u - Math.floor(u)];
            const i1 = Math.min(gw - 1, i0 + 1);
            const p = gate.plane;
            const top = p[j0 * gw + i0]! + (p[j0 * gw + i1]! - p[j0 * gw + i0]!) * fx;
            const bottom = p[j1 * gw + i0]! + (p[j1 * gw + i1]! - p[j1 * gw + i0]!) * fx;
            const g = top + (bottom - top) * fy;
            if (g <= 0) continue;
            ed[x] = pd[x]! * g;
            el[x] = pl[x]! * g;
            expected.push(x);
          }
          const m = gated.row(y, gd, gl);
          expect([...gated.hits.subarray(0, m)]).toEqual(expected);
          expect(Buffer.from(gd.buffer).equals(Buffer.from(ed.buffer))).toBe(true);
          expect(Buffer.from(gl.buffer).equals(Buffer.from(el.buffer))).toBe(true);
          kept += m;
        }
        expect(kept).toBeGreaterThan(100);
      },
    );

    it('is a plane of factors 0..1, one per step, and refuses a range that is not one', () => {
      const { luma, w, h } = lineAndGravel();
      const lines = new ThinLines({ luma, width: w, height: h });
      const gate = lines.densityGate({ step: 8 });
      expect([gate.width, gate.height, gate.step, gate.plane.length]).toEqual([32, 32, 8, 1024]);
      expect(Math.min(...gate.plane)).toBe(0);
      expect(Math.max(...gate.plane)).toBe(1);
      expect(() => lines.densityGate({ from: 0.3, to: 0.3 })).toThrow(/`to` must be above `from`/);
      // A gate is for the size it was made for.
      expect(() => new ThinLines({ luma, width: w / 2, height: h * 2, gate })).toThrow(/another size/);
    });
  });
});

describe('ThinRowsAhead', () => {
  /** Two lines, and grain on the left half (many hits: the stored rows must grow) unless a density gate drops it. */
  function scene(gated = true): {
    lines: ThinLines;
    luma: Uint8Array;
    gate: ThinLinesGate | undefined;
    w: number;
    h: number;
  } {
    const [w, h] = [200, 150];
    const luma = lineOnFlat(w, h, 170, 40, 30);
    const light = lineOnFlat(w, h, 90, 230, 100);
    let seed = 7;
    for (let i = 0; i < w * h; i++) {
      if (light[i] !== 90) luma[i] = light[i]!;
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      if (i % w < w / 2) luma[i] = (seed >>> 24) & 1 ? 200 : 60;
    }
    const gate = gated ? new ThinLines({ luma, width: w, height: h }).densityGate({ step: 3 }) : undefined;
    return { lines: new ThinLines({ luma, width: w, height: h, gate }), luma, gate, w, h };
  }

  it.each([true, false])(
    'gives every row exactly as ThinLines.row does, however many were found ahead (gate: %s)',
    (gated) => {
      const { luma, gate, w, h } = scene(gated);
      for (const ahead of [0, 1, 37, h]) {
        const found = new ThinRowsAhead(scene(gated).lines);
        found.find(ahead);
        const rows = found.rows();
        expect(rows.rows).toBe(ahead);
        const direct = scene(gated).lines;
        // Rows below `ahead` come from the stored ones, the others are searched.
        const withAhead = new ThinLines({ luma, width: w, height: h, gate, ahead: rows });
        const [dark, light, aDark, aLight] = fourRows(w);
        let total = 0;
        for (let y = 0; y < h; y++) {
          const n = direct.row(y, dark, light);
          aDark.fill(-1);
          aLight.fill(-1);
          expect(withAhead.row(y, aDark, aLight)).toBe(n);
          expect([...withAhead.hits.subarray(0, n)]).toEqual([...direct.hits.subarray(0, n)]);
          expect(aDark).toEqual(dark);
          expect(aLight).toEqual(light);
          if (y < ahead) total += n;
        }
        // Without the gate, enough lines that the store grew past its first size (4096).
        if (ahead === h && !gated) expect(total).toBeGreaterThan(4096);
        if (ahead === h) expect(total).toBeGreaterThan(2 * h); // both lines, on every row
      }
    },
  );

  it('gives the rows found ahead from them, not by searching its luma again', () => {
    const { lines, w, h } = scene();
    const found = new ThinRowsAhead(lines);
    found.find(40);
    // A flat luma has no lines: rows 0-39 can only come from the stored rows.
    const flat = new ThinLines({
      luma: new Uint8Array(w * h).fill(128),
      width: w,
      height: h,
      ahead: found.rows(),
    });
    const [dark, light, sDark, sLight] = fourRows(w);
    let stored = 0;
    for (let y = 0; y < h; y++) {
      const n = flat.row(y, dark, light);
      expect(n).toBe(y < 40 ? lines.row(y, sDark, sLight) : 0);
      if (y < 40) stored += n;
    }
    expect(stored).toBeGreaterThan(40);
  });

  it('finds rows until the promise it waits for settles, and stops at the last row or on abort', async () => {
    const { lines, h } = scene();
    const settled = new ThinRowsAhead(lines);
    await settled.fillWhile(Promise.resolve());
    expect(settled.rows().rows).toBe(0); // settled already: nothing found

    // Settles after a few turns of the event loop: some rows are found, in chunks of 16, not all.
    const later = new Promise<void>((resolve) =>
      setImmediate(() => setImmediate(() => setImmediate(resolve))),
    );
    const some = new ThinRowsAhead(scene().lines);
    await some.fillWhile(later);
    const found = some.rows().rows;
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(h);
    expect(found % 16).toBe(0);

    // A rejected promise ends it too, without throwing.
    const failed = new ThinRowsAhead(scene().lines);
    await expect(failed.fillWhile(Promise.reject(new Error('libvips failed')))).resolves.toBeUndefined();

    // A promise that never settles: every row, then it returns.
    const all = new ThinRowsAhead(scene().lines);
    await all.fillWhile(new Promise(() => {}));
    expect(all.rows().rows).toBe(h);

    // Aborted: it returns at once.
    const controller = new AbortController();
    controller.abort();
    const aborted = new ThinRowsAhead(scene().lines);
    await aborted.fillWhile(new Promise(() => {}), controller.signal);
    expect(aborted.rows().rows).toBe(0);
  });
});
