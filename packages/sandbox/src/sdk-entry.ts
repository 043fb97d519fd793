// The entry of the SDK bundle every isolate starts with (see sdk-bundle.ts): the isolate's
// `@atelier/core` (core's pure-JavaScript sandbox SDK) and `zod`, as one script that a fresh
// isolate compiles from V8's code cache in milliseconds instead of a megabyte of module files.
import * as core from '@atelier/core/sandbox-sdk';
import * as zod from 'zod';

(globalThis as { __atelierSdk?: unknown }).__atelierSdk = { core, zod };
