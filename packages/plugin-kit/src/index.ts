// The front door of @atelier/plugin-kit: the conformance checks of Atelier plugins.
// `@atelier/plugin-kit/vitest` registers them as vitest tests.
export { CANCEL_DEADLINE_MS, CHECKS, PluginChecker, checkPlugin, goldenFileName } from './check-plugin.ts';
export type {
  Budget,
  CheckName,
  CheckOptions,
  CheckReport,
  CheckResult,
  CheckStatus,
  GoldenOptions,
} from './check-plugin.ts';
export { findPackageDir, optionsFromPackage, readPluginPackage } from './package-config.ts';
export type { PluginPackage } from './package-config.ts';
export { formatReport } from './report.ts';
export type { FormatOptions } from './report.ts';
export { SAMPLE_PHOTO, oddInputs, samplePng } from './samples.ts';
export type { OddInput } from './samples.ts';
