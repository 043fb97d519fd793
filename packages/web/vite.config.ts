import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/** Where `pnpm --filter @atelier/web dev` sends API calls: a running `atelier serve`. */
const api = process.env['ATELIER_API_URL'] ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
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
