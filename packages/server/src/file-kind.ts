// What a path is, for commands that take a file or a directory: false when it does not exist (or
// cannot be read), never an error.
import { stat } from 'node:fs/promises';

/**
 * Whether `p` is a directory.
 *
 * @example
 * if (await isDirectory(out)) target = path.join(out, name);
 */
export function isDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * Whether `p` is a regular file.
 *
 * @example
 * if (await isFile(spec)) await installTarball(spec);
 */
export function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}
