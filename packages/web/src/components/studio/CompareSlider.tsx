import { useState } from 'react';
import type { ReactNode } from 'react';

/**
 * Before/after: `after` drawn over `before`, cut at the slider's position.
 *
 * Written here instead of taking react-compare-slider: the control is a native
 * `<input type="range">` laid over the pictures, so keyboard (arrows, Page Up/Down, Home/End),
 * touch, pointer drag, focus ring and the accessible name ("Compare original and preview") all
 * come from the browser with no script of ours and no extra bundle, and both pictures stay plain
 * `<img>` elements with their own alt text (the tests and screen readers find "Preview").
 */
export function CompareSlider({
  before,
  after,
  label,
}: {
  before: ReactNode;
  after: ReactNode;
  /** The slider's accessible name. */
  label: string;
}) {
  const [position, setPosition] = useState(50);
  return (
    <div className="studio-compare">
      <div className="studio-compare-layer">{before}</div>
      <div className="studio-compare-layer" style={{ clipPath: `inset(0 0 0 ${position}%)` }}>
        {after}
      </div>
      <div className="studio-compare-divider" style={{ left: `${position}%` }} aria-hidden="true" />
      <input
        className="studio-compare-range"
        type="range"
        min={0}
        max={100}
        step={1}
        value={position}
        aria-label={label}
        aria-valuetext={`${position}% original, ${100 - position}% styled`}
        onChange={(event) => setPosition(Number(event.currentTarget.value))}
      />
    </div>
  );
}
