/**
 * npx tsx scripts/gpu/placement.ts --bundle DIR [--provider webgpu]
 *
 * Opens the bundle's three graphs on one execution provider with ORT's verbose log, which lists the nodes each
 * provider was given ("Node(s) placed on [CPUExecutionProvider] …"). The engine opens its sessions with errors-only
 * logging (lib/model/engine/executionProvider.ts), so this is the way to see which ops a GPU provider leaves to the
 * CPU. The log comes from ORT's native logger on stderr; filter it with e.g. `2>&1 | grep -A30 'placed on'`.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { ONNX_FILES } from "@/lib/model/engine/bundle";

const { values } = parseArgs({
  options: { bundle: { type: "string" }, provider: { type: "string", default: "webgpu" } },
  strict: true,
});
if (values.bundle === undefined) {
  process.stderr.write("usage: placement.ts --bundle DIR [--provider webgpu|cuda|cpu]\n");
  process.exit(2);
}

for (const [name, relative] of Object.entries(ONNX_FILES)) {
  process.stdout.write(`=== ${name} on ${values.provider}\n`);
  // As the engine opens it (same provider, optimisation level "all"), but with verbose logging.
  const session = await ort.InferenceSession.create(path.join(values.bundle, relative), {
    executionProviders: [values.provider],
    graphOptimizationLevel: "all",
    logSeverityLevel: 0,
    logVerbosityLevel: 0,
  });
  await session.release();
}
