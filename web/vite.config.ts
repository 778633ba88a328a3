import { defineConfig } from "vite";

// Assets land in dist/assets/ with hashed names; vigil serve embeds dist/ (crates/serve/build.rs)
// and answers them at /assets/*. `npm run dev` proxies the API to a running `vigil serve`.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      "/api": process.env.VIGIL_URL ?? "http://127.0.0.1:8088",
      "/vigil": process.env.VIGIL_URL ?? "http://127.0.0.1:8088",
    },
  },
});
