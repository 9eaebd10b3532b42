/**
 * npx tsx scripts/gpu/bundle.ts OUT_DIR
 *
 * Bundles the GPU-machine entry points (scripts/convert.ts, scripts/parity.ts, scripts/bench-cache.ts,
 * scripts/bench-host.ts, scripts/gpu/{bench,bench-vs-hf,embed-placement,gemv,kv-capacity,placement,precision,profile}.ts)
 * into one ESM file each with esbuild, so the GPU machine needs no node_modules besides the native packages left external
 * (onnxruntime-node, sharp), which prepare-carry.sh carries separately.
 *
 * Modules that find their data next to their source (`new URL("./templates/…", import.meta.url)`, createRequire)
 * would otherwise resolve against the bundle's own location. The `module-url` plugin below rewrites each module's
 * `import.meta.url` to the URL of its original source file under the repository root found at run time (the
 * VLCACHE_ROOT variable, else the working directory), so the bundle behaves as the sources do when it is run from
 * the root of a checkout, which the GPU machine has: the working tree travels there.
 */
import { build, type Plugin } from "esbuild";
import { readFile } from "node:fs/promises";
import path from "node:path";

const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");

const ENTRIES = {
  convert: "scripts/convert.ts",
  parity: "scripts/parity.ts",
  "bench-cache": "scripts/bench-cache.ts",
  "bench-host": "scripts/bench-host.ts",
  "bench-vs-hf": "scripts/gpu/bench-vs-hf.ts",
  bench: "scripts/gpu/bench.ts",
  placement: "scripts/gpu/placement.ts",
  profile: "scripts/gpu/profile.ts",
  precision: "scripts/gpu/precision.ts",
  "embed-placement": "scripts/gpu/embed-placement.ts",
  "kv-capacity": "scripts/gpu/kv-capacity.ts",
  gemv: "scripts/gpu/gemv.ts",
};

/** Native packages: loaded from node_modules at run time (carried as tarballs), never inlined. */
const EXTERNAL = ["onnxruntime-node", "sharp"];

const RUNTIME_ROOT = "__vlcacheSourceRoot";

const moduleUrl: Plugin = {
  name: "module-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await readFile(args.path, "utf8");
      if (!source.includes("import.meta.url")) return undefined;
      const relative = path.relative(REPO_ROOT, args.path).split(path.sep).join("/");
      return {
        contents: source.replaceAll("import.meta.url", `new URL(${JSON.stringify(relative)}, ${RUNTIME_ROOT}).href`),
        loader: "ts",
      };
    });
  },
};

// Bundled CommonJS dependencies call require() for Node built-ins, which an ESM bundle lacks; the banner provides one
// (esbuild renames a module's own top-level `require`, as randomCheckpoint.ts has, so the two do not clash).
const BANNER = [
  `import { createRequire as __vlcacheCreateRequire } from "node:module";`,
  `import { pathToFileURL as __vlcachePathToFileURL } from "node:url";`,
  `const require = __vlcacheCreateRequire(import.meta.url);`,
  `const ${RUNTIME_ROOT} = __vlcachePathToFileURL((process.env.VLCACHE_ROOT ?? process.cwd()) + "/");`,
].join("\n");

async function main(): Promise<void> {
  const outdir = process.argv[2];
  if (outdir === undefined) throw new Error("usage: npx tsx scripts/gpu/bundle.ts OUT_DIR");
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ENTRIES,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    tsconfig: path.join(REPO_ROOT, "tsconfig.json"),
    external: EXTERNAL,
    plugins: [moduleUrl],
    banner: { js: BANNER },
    logLevel: "warning",
    metafile: true,
  });
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    process.stdout.write(`${file}: ${(info.bytes / 1e6).toFixed(1)} MB\n`);
  }
}

await main();
