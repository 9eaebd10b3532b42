import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  // Component tests render with react-dom/server; tsconfig keeps JSX for Next.js, so the test build compiles it itself.
  esbuild: { jsx: "automatic" },
  resolve: { alias: { "@": fileURLToPath(new URL("./", import.meta.url)) } },
  test: {
    include: ["lib/**/*.test.ts", "tests/**/*.test.ts", "scripts/**/*.test.ts", "components/**/*.test.tsx"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration tests start real servers and ORT sessions; two cores are all there is.
    fileParallelism: true,
    maxWorkers: 2,
    server: { deps: { external: ["onnxruntime-node", "sharp"] } },
  },
});
