import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * Writes `.br` and `.gz` beside each script, stylesheet and the HTML: `atelier serve` sends them to
 * browsers that accept them (@fastify/static's `preCompressed`), so nothing is compressed per request.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'atelier-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async writeBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((name) => /\.(js|css|html|svg|json)$/.test(name));
      await Promise.all(
        files.map(async (name) => {
          const file = path.join(outDir, name);
          const bytes = await readFile(file);
          if (bytes.length < 1024) return;
          const [br, gz] = await Promise.all([
            brotli(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
            gzipAsync(bytes, { level: 9 }),
          ]);
          await Promise.all([writeFile(`${file}.br`, br), writeFile(`${file}.gz`, gz)]);
        }),
      );
    },
  };
}

/** Where `pnpm --filter @atelier/web dev` sends API calls: a running `atelier serve`. */
const api = process.env['ATELIER_API_URL'] ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The budget is 200 KB of gzipped JavaScript for the first screen (bench/web-bench.ts checks it).
    chunkSizeWarningLimit: 400,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    // Same origin for the browser: cookies and the server's Origin check work unchanged.
    proxy: Object.fromEntries(
      ['/trpc', '/api', '/files', '/docs', '/healthz', '/readyz'].map((path) => [
        path,
        {
          target: api,
          // The server trusts cookie mutations only from its own origin: present the proxied
          // requests as coming from it, Host and Origin both (the dev server is the same user's
          // browser, on the same machine).
          changeOrigin: true,
          configure: (proxy) => {
            proxy.on('proxyReq', (req) => req.setHeader('origin', new URL(api).origin));
          },
        },
      ]),
    ),
  },
});
