import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

/**
 * The console bundle. Built by `buildDashboard` (src/index.ts) when the sources changed, or
 * by hand with `pnpm --filter @huiying/web build`. `pnpm --filter @huiying/web dev` serves it
 * with hot reload against an API on 127.0.0.1:8080.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Charts and the component library are large by nature; one warning per build is noise.
    chunkSizeWarningLimit: 2000,
    // The CSP allows scripts from 'self' only: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/docs': 'http://127.0.0.1:8080' },
  },
});
