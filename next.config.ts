import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native addons and the model runtime stay out of the bundler and load from node_modules on the server.
  serverExternalPackages: ["onnxruntime-node", "sharp", "ioredis", "pino", "@huggingface/transformers"],
  reactStrictMode: true,
};

export default nextConfig;
