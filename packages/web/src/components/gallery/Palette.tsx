import { paletteLabel } from '../../lib/gallery-search.ts';

type Colour = { readonly hex: string; readonly weight: number };

/** A strip of an image's dominant colours, each as wide as its share (for cards). */
export function PaletteStrip({ palette }: { palette: readonly Colour[] }) {
  if (palette.length === 0) return null;
  return (
    <span className="swatches" role="img" aria-label={`Colours: ${paletteLabel(palette)}`}>
      {palette.map((p) => (
        <span key={p.hex} style={{ background: p.hex, flexGrow: p.weight, flexBasis: 0 }} />
      ))}
    </span>
  );
}

/** The dominant colours as buttons: choosing one finds the photos with that colour. */
export function PaletteButtons({
  palette,
  onPick,
}: {
  palette: readonly Colour[];
  onPick: (hex: string) => void;
}) {
  if (palette.length === 0) return null;
  return (
    <ul className="swatch-buttons" aria-label="Colours">
      {palette.map((p) => (
        <li key={p.hex}>
          <button type="button" onClick={() => onPick(p.hex)} title={`Find photos with ${p.hex}`}>
            <span className="swatch-chip" style={{ background: p.hex }} aria-hidden="true" />
            {p.hex} {Math.round(p.weight * 100)}%
            <span className="visually-hidden">: find photos with it</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
