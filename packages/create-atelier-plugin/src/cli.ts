#!/usr/bin/env node
// `create-atelier-plugin <dir>` (what `npm create atelier-plugin` runs). Failures end with one line
// `create-atelier-plugin: CODE: message` and exit code 1 (2 for a usage mistake).
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2), process.stdout, process.stderr);
