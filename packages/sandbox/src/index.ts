// @atelier/sandbox: third-party plugins run in an isolated-vm isolate inside a separate,
// permission-restricted process with an empty environment. See docs/security.md, "The sandbox
// and why". Node >= 24 (isolated-vm); @atelier/core does not depend on it.
export {
  SANDBOX_RUNNER_URL,
  closeHostSandbox,
  hostSandboxProcess,
  loadSandboxedModule,
  proxyPlugin,
} from './load.ts';
export { SandboxProcess } from './sandbox-process.ts';
export type { SandboxProcessOptions, SandboxRunHooks, SandboxRunRequest } from './sandbox-process.ts';
export type { PluginDescription, WireImage } from './protocol.ts';
export { HOST_CALLS } from './protocol.ts';
export type { HostCall } from './protocol.ts';
export { SHARP_OPERATIONS, SHARP_OUTPUTS } from './sharp-recording.ts';
export { redactSecrets } from './runner.ts';
