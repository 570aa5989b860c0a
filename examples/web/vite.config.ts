import { defineConfig } from 'vite';

// No React plugin: Vite's own transform handles TSX (automatic JSX runtime,
// from tsconfig's "jsx": "react-jsx"). Fast refresh is the only thing missed.
export default defineConfig({
  base: '/',
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  build: {
    target: 'es2022',
    sourcemap: true,
  },
});
