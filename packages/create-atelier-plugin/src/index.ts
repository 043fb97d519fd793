// create-atelier-plugin: the scaffolder behind `npm create atelier-plugin` and
// `atelier plugin new`. The command line is `bin` (src/cli.ts); this is the programmatic side.
export {
  DEPENDENCY_RANGES,
  PLUGIN_ID_PATTERN,
  ScaffoldError,
  TEMPLATE_DIR,
  goldenFileName,
  humanName,
  packageJson,
  packageManagerFromUserAgent,
  packageNameFor,
  scaffold,
} from './scaffold.ts';
export type { PackageManager, ScaffoldErrorCode, ScaffoldOptions, ScaffoldResult } from './scaffold.ts';
export { USAGE, main } from './main.ts';
