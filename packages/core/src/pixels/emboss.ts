/** Arguments of {@link embossPlane}. */
export interface EmbossArgs {
  /** Height field, `width * height` samples. */
  readonly heights: Float32Array;
  readonly width: number;
  readonly height: number;
  /**
   * Direction the light comes from, in radians, measured like screen angles (0 = from the right,
   * π/2 = from below, -3π/4 = from the top left).
   * @default -3π/4
   */
  readonly azimuth?: number;
  /** Whether the plane is a seamless tile (neighbours wrap around) or an image (edges repeat). @default false */
  readonly wrap?: boolean;
  /** Result plane (not `heights`); allocated when omitted. */
  readonly out?: Float32Array;
}

/**
 * Relief shading of a height field by a low, distant light: the slope of the surface toward the
 * light (central differences), positive on faces turned to the light and negative on those turned
 * away, 0 on flat ground. Multiply a colour by `1 + k * emboss` to light paper grain, canvas weave or
 * impasto brush marks. Linear in the heights, so scaling the heights scales the relief.
 *
 * @returns `out`.
 *
 * @example
 * const light = embossPlane({ heights: grain, width: 256, height: 256, wrap: true });
 */
export function embossPlane(args: EmbossArgs): Float32Array {
  const { heights, width: w, height: h } = args;
  const n = w * h;
  if (heights.length < n) throw new Error('embossPlane: heights too small');
  const out = args.out ?? new Float32Array(n);
  if (out === heights || out.length < n)
    throw new Error('embossPlane: out must be a separate width * height plane');
  const azimuth = args.azimuth ?? (-3 * Math.PI) / 4;
  // Half of the central difference, projected on the direction the light comes from.
  const lx = 0.5 * Math.cos(azimuth);
  const ly = 0.5 * Math.sin(azimuth);
  const wrap = args.wrap ?? false;
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : wrap ? h - 1 : 0) * w;
    const down = (y < h - 1 ? y + 1 : wrap ? 0 : y) * w;
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const l = x > 0 ? x - 1 : wrap ? w - 1 : 0;
      const r = x < w - 1 ? x + 1 : wrap ? 0 : x;
      // A face that rises away from the light is turned to it.
      out[row + x] = -(
        lx * (heights[row + r]! - heights[row + l]!) +
        ly * (heights[down + x]! - heights[up + x]!)
      );
    }
  }
  return out;
}
