import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console is served by the API at /admin (src/api/console-static.ts), so assets are built
 * under that base. `npx vite admin` proxies /admin/api to a running `sluice dev` for development.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/admin/api': 'http://127.0.0.1:8080' } },
});
