import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * End-to-end tests: a production build of the app (`next build` + `next start`) with its own redis-server, driven by
 * Debian's Chromium through playwright-core. globalSetup.ts builds and starts everything once; tests run one file at
 * a time because they share that server.
 */
export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL("../", import.meta.url)) } },
  test: {
    root: fileURLToPath(new URL("../", import.meta.url)),
    include: ["e2e/**/*.e2e.test.ts"],
    globalSetup: ["e2e/globalSetup.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    server: { deps: { external: ["sharp"] } },
  },
});
