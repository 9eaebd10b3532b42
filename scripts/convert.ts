/**
 * npm run convert -- --from DIR | --random tiny|small|2b|CONFIG.json [--seed N] [--min-pixels N --max-pixels N]
 *                    --out DIR [--dtype fp32|fp16] [--rotary fused|plain] [--force] [--checkpoint-out DIR]
 *
 * Builds a vlcache model bundle (see models/README.md) from a Hugging Face Qwen3-VL checkpoint folder, or from a
 * seeded random checkpoint generated on the fly (kept with --checkpoint-out, e.g. to load it in PyTorch).
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { ConvertError, convertCheckpoint, convertRandom } from "@/lib/model/convert/convert";
import { DEFAULT_ROTARY, ROTARY_KINDS } from "@/lib/model/graphs/rotaryEmbedding";
import { formatBytes, formatDuration } from "@/lib/progress";

const USAGE = `usage: npm run convert -- (--from DIR | --random tiny|small|2b|CONFIG.json [--seed N]
                          [--min-pixels N --max-pixels N]) --out DIR [--dtype fp32|fp16] [--rotary fused|plain]
                          [--force] [--checkpoint-out DIR]
  --from DIR            Hugging Face Qwen3-VL checkpoint folder (config.json, *.safetensors, tokenizer, preprocessor)
  --random PRESET       seeded random weights: tiny (tests), small (CPU benchmarks), 2b (Qwen3-VL-2B sizes),
                        or a path to a Qwen3-VL config.json
  --seed N              seed for --random (default 0)
  --min-pixels N        with --random: image-size bounds (pixels after resizing) for preprocessor_config.json;
  --max-pixels N        default: the preset's, or for a config.json the closest preset's (vlcache.json says which)
  --out DIR             bundle folder to write
  --dtype fp32|fp16     weights and activations (default fp32)
  --rotary fused|plain  rotary embedding as ORT's fused RotaryEmbedding (default) or plain ops, the same function
                        (plain: for A/B benchmarks of the graphs)
  --force               replace an existing bundle at --out
  --checkpoint-out DIR  with --random: also keep the generated checkpoint folder there`;

const argsSchema = z
  .object({
    from: z.string().min(1).optional(),
    random: z.string().min(1).optional(),
    seed: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
    out: z.string({ error: "--out DIR is required" }).min(1),
    dtype: z.enum(["fp32", "fp16"], { error: "--dtype must be fp32 or fp16" }).default("fp32"),
    rotary: z.enum(ROTARY_KINDS, { error: `--rotary must be ${ROTARY_KINDS.join(" or ")}` }).default(DEFAULT_ROTARY),
    force: z.boolean().default(false),
    "checkpoint-out": z.string().min(1).optional(),
    "min-pixels": z.coerce.number({ error: "--min-pixels must be a number" }).int().positive().optional(),
    "max-pixels": z.coerce.number({ error: "--max-pixels must be a number" }).int().positive().optional(),
  })
  .refine((a) => (a.from === undefined) !== (a.random === undefined), {
    message: "give exactly one of --from DIR or --random PRESET",
  })
  .refine((a) => a["checkpoint-out"] === undefined || a.random !== undefined, {
    message: "--checkpoint-out only applies to --random",
  })
  .refine((a) => (a["min-pixels"] === undefined) === (a["max-pixels"] === undefined), {
    message: "give both --min-pixels and --max-pixels, or neither",
  })
  .refine((a) => a["min-pixels"] === undefined || a.random !== undefined, {
    message: "--min-pixels and --max-pixels only apply to --random",
  })
  .refine((a) => a["min-pixels"] === undefined || a["min-pixels"] <= a["max-pixels"]!, {
    message: "--min-pixels must not exceed --max-pixels",
  });

function fail(message: string): never {
  process.stderr.write(`convert: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: "string" },
        random: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        dtype: { type: "string" },
        rotary: { type: "string" },
        force: { type: "boolean" },
        "checkpoint-out": { type: "string" },
        "min-pixels": { type: "string" },
        "max-pixels": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) fail(parsed.error.issues.map((i) => i.message).join("; "));
  const args = parsed.data;

  const startedAt = Date.now();
  const common = { dtype: args.dtype, rotary: args.rotary, force: args.force, progress: true };
  const manifest =
    args.from !== undefined
      ? await convertCheckpoint(args.from, args.out, common)
      : await convertRandom(args.random as string, args.out, {
          ...common,
          seed: args.seed,
          checkpointDir: args["checkpoint-out"],
          ...(args["min-pixels"] !== undefined
            ? { imageSize: { shortestEdge: args["min-pixels"], longestEdge: args["max-pixels"]! } }
            : {}),
        });

  const bytes = Object.values(manifest.graphs).reduce((sum, g) => sum + g.bytes, 0);
  process.stdout.write(
    `bundle ${args.out}: ${manifest.dtype}, ${manifest.rotary} rotary, ${formatBytes(bytes)} of ONNX in ${formatDuration(Date.now() - startedAt)}, ` +
      `source fingerprint ${manifest.sourceFingerprint.slice(0, 16)}…\n`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConvertError || (error instanceof Error && "code" in error)) {
    process.stderr.write(`convert: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
});
