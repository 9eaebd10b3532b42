import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native addons and the model runtime stay out of the bundler and load from node_modules on the server.
  serverExternalPackages: ["onnxruntime-node", "sharp", "ioredis", "pino", "@huggingface/transformers"],
  reactStrictMode: true,
  // Types are checked by `npm run typecheck` (CI runs it before the tests); the build does not repeat that work, and a
  // type error in a test file does not stop `npm run demo`.
  typescript: { ignoreBuildErrors: true },
};

export default nextConfig;
