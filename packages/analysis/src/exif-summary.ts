// What a photo's EXIF says that the gallery shows: when it was taken, with which camera, its
// orientation, and where (GPS: the owner's eyes only, see docs/gallery.md "Privacy").
import exifReader from 'exif-reader';

/** A position from EXIF GPS tags: decimal degrees, altitude in metres (null when not recorded). */
export interface GpsPosition {
  readonly lat: number;
  readonly lon: number;
  readonly alt: number | null;
}

/** The EXIF facts Atelier keeps. Every field is null when the file does not say it (or says nonsense). */
export interface ExifSummary {
  /**
   * When the photo was taken (DateTimeOriginal, else DateTimeDigitized, else DateTime). EXIF
   * stores wall-clock time: with an OffsetTime tag it is converted to UTC; without one, the
   * wall-clock time is kept as if it were UTC.
   */
  readonly takenAt: Date | null;
  /** Make and model, e.g. `Canon EOS 5D` (the make once when the model repeats it). */
  readonly camera: string | null;
  /** EXIF orientation 1..8 (1: upright); the analysis itself runs on the upright image. */
  readonly orientation: number | null;
  /** Where it was taken. Private to the owner: never in any other output or log. */
  readonly gps: GpsPosition | null;
}

export const EMPTY_EXIF: ExifSummary = { takenAt: null, camera: null, orientation: null, gps: null };

const MAX_CAMERA_CHARS = 200;

const text = (value: unknown): string | null => {
  if (typeof value !== 'string') return null;
  // Control characters (EXIF strings are NUL-padded) become spaces.
  const clean = [...value]
    .map((c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127 ? ' ' : c))
    .join('')
    .trim()
    .replace(/\s+/g, ' ');
  return clean.length > 0 ? clean : null;
};

const validDate = (value: unknown): Date | null =>
  value instanceof Date &&
  !Number.isNaN(value.getTime()) &&
  value.getUTCFullYear() >= 1826 && // the oldest surviving photograph
  value.getUTCFullYear() <= 2200
    ? value
    : null;

/** `+02:00` / `-05:30` -> minutes east of UTC; undefined for anything else. */
function offsetMinutes(value: unknown): number | undefined {
  const match = typeof value === 'string' ? /^([+-])(\d{2}):(\d{2})$/.exec(value.trim()) : null;
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return minutes > 14 * 60 ? undefined : (match[1] === '-' ? -1 : 1) * minutes;
}

function degrees(value: unknown, ref: unknown, negative: string, max: number): number | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const [d = 0, m = 0, s = 0] = value as unknown[];
  if (![d, m, s].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) return null;
  const abs = (d as number) + (m as number) / 60 + (s as number) / 3600;
  if (abs > max) return null;
  return typeof ref === 'string' && ref.trim().toUpperCase() === negative ? -abs : abs;
}

function camera(make: string | null, model: string | null): string | null {
  if (!make) return model?.slice(0, MAX_CAMERA_CHARS) ?? null;
  if (!model) return make.slice(0, MAX_CAMERA_CHARS);
  const joined = model.toLowerCase().startsWith(make.toLowerCase()) ? model : `${make} ${model}`;
  return joined.slice(0, MAX_CAMERA_CHARS);
}

/**
 * Reads the summary from a raw EXIF block (sharp's `metadata().exif`, starting `Exif\0\0` or at the
 * TIFF header). A missing or damaged block gives nulls, never an error: EXIF is optional and
 * often mangled by editors. `orientation` (sharp's `metadata().orientation`) wins over the block's.
 */
export function exifSummary(exif: Uint8Array | undefined, orientation?: number): ExifSummary {
  const fromHeader = orientation !== undefined && orientation >= 1 && orientation <= 8 ? orientation : null;
  if (!exif || exif.length < 8) return { ...EMPTY_EXIF, orientation: fromHeader };
  let tags: ReturnType<typeof exifReader>;
  try {
    tags = exifReader(Buffer.from(exif.buffer, exif.byteOffset, exif.byteLength));
  } catch {
    return { ...EMPTY_EXIF, orientation: fromHeader };
  }
  const image = tags.Image ?? {};
  const photo = tags.Photo ?? {};
  const gpsTags = tags.GPSInfo ?? {};
  const [date, offset] = validDate(photo.DateTimeOriginal)
    ? [photo.DateTimeOriginal, photo.OffsetTimeOriginal]
    : validDate(photo.DateTimeDigitized)
      ? [photo.DateTimeDigitized, photo.OffsetTimeDigitized]
      : [validDate(image.DateTime), photo.OffsetTime];
  const minutes = offsetMinutes(offset);
  const takenAt = date instanceof Date ? new Date(date.getTime() - (minutes ?? 0) * 60_000) : null;
  const tagOrientation =
    typeof image.Orientation === 'number' && image.Orientation >= 1 && image.Orientation <= 8
      ? image.Orientation
      : null;
  const lat = degrees(gpsTags.GPSLatitude, gpsTags.GPSLatitudeRef, 'S', 90);
  const lon = degrees(gpsTags.GPSLongitude, gpsTags.GPSLongitudeRef, 'W', 180);
  const altitude = gpsTags.GPSAltitude;
  const alt =
    typeof altitude === 'number' && Number.isFinite(altitude)
      ? gpsTags.GPSAltitudeRef === 1
        ? -altitude
        : altitude
      : null;
  return {
    takenAt: validDate(takenAt),
    camera: camera(text(image.Make), text(image.Model)),
    orientation: fromHeader ?? tagOrientation,
    gps: lat !== null && lon !== null ? { lat, lon, alt } : null,
  };
}
