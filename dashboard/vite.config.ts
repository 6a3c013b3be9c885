// Builds the dashboard (dashboard/src) into dashboard/dist, served by dashboard/server.ts.
// TSX is compiled by Vite's own transform with the automatic JSX runtime (src/tsconfig.json):
// no React plugin is needed for a production build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
});
