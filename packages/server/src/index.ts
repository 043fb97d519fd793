export { readConfig } from './config.ts';
export type { AtelierConfig } from './config.ts';
export { createRegistry, createRuntime } from './runtime.ts';
export { parseSetOptions } from './cli-args.ts';
export { applyFiles, planFromOptions, writeFileAtomic } from './cli-apply.ts';
export type { ApplyOptions, ApplyReport } from './cli-apply.ts';
export { benchStyle } from './cli-bench.ts';
export type { BenchOptions, BenchResult } from './cli-bench.ts';
export { buildProgram, main } from './cli.ts';
