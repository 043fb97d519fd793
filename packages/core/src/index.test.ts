import { readFile } from 'node:fs/promises';
import { z as zod } from 'zod';
import { describe, expect, it } from 'vitest';
import * as sdk from './index.ts';
import * as sandboxSdk from './sandbox-sdk.ts';

describe('the SDK front door', () => {
  it("re-exports the engine's own zod, so a plugin's schemas are the engine's", () => {
    expect(sdk.z).toBe(zod);
  });

  it('has every runtime export documented in docs/sdk.md', async () => {
    const doc = await readFile(new URL('../../../docs/sdk.md', import.meta.url), 'utf8');
    const missing = Object.keys(sdk).filter((name) => !new RegExp(`\\b${name}\\b`).test(doc));
    expect(missing).toEqual([]);
  });

  it('gives sandboxed plugins every export but the host-side ones (engine, loaders, image I/O, checks)', () => {
    // A built-in or third-party style that imports an export missing from the sandbox's SDK
    // cannot load there (ATELIER_SANDBOX_BUILTINS, or any sandboxed package).
    const hostOnly = [
      ...['CONTENT_TYPES', 'DEFAULT_FETCH_MAX_BYTES', 'DEFAULT_FETCH_TIMEOUT_MS', 'DEFAULT_LIMITS'],
      ...['DEFAULT_QUALITY', 'Engine', 'INPUT_FORMATS', 'MAX_CAPTION_CHARS', 'MAX_COSTS_PER_STEP'],
      ...['MAX_COST_DETAIL_CHARS', 'MAX_FETCH_REDIRECTS', 'MAX_FETCH_TIMEOUT_MS', 'MAX_TAGS'],
      ...['MAX_TAG_CHARS', 'NETWORK_HOST_PATTERN', 'OUTPUT_EXTENSIONS', 'OUTPUT_FORMATS'],
      ...['PLUGIN_ID_PATTERN', 'PluginRegistry', 'SECRET_NAME_PATTERN', 'canonicalJson'],
      ...['capabilitiesProblem', 'capabilityAccess', 'checkAnnotation', 'checkCost', 'checkOutputSize'],
      ...['createPlan', 'decodeImage', 'encodeImage', 'forbiddenAddressReason', 'hostFetch'],
      ...['hostMatches', 'importPluginModule', 'inspectInput', 'loadImage', 'loadPluginDirectory'],
      ...['loadPluginModule', 'missingGrants', 'networkHostProblem', 'notGrantedError'],
      ...['outputPixelLimit', 'parsePlan', 'planHash', 'planRequestSchema', 'planSchema'],
      ...['redactSecrets', 'resolvePluginPackage', 'runCosts', 'runStep', 'sharpFromRaw', 'stepSeed'],
      ...['validatePlugin', 'WARM_UP_HEIGHT', 'WARM_UP_SCALE', 'WARM_UP_WIDTH', 'warmUpPixels'],
      ...['PREVIEW_PROXY_BLOCK', 'makePreviewProxy', 'shareCompileCache'],
    ];
    const missing = Object.keys(sdk).filter((name) => !(name in sandboxSdk));
    expect(missing.sort()).toEqual(hostOnly.sort());
  });
});
