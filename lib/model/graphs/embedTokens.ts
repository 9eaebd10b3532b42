import type { Qwen3VLConfig } from "@/lib/model/config";
import type { GraphBuilder } from "@/lib/model/onnx/graphBuilder";

export const EMBED_TOKENS_WEIGHT = "model.language_model.embed_tokens.weight";

/**
 * `embed_tokens`: `input_ids` [B, S] i64 → `inputs_embeds` [B, S, H] in the graph's float type.
 * A separate graph (not folded into the decoder) because image features overwrite rows of its output before the
 * decoder runs, and because transformers.js loads Qwen-VL models as exactly these three sessions.
 */
export function buildEmbedTokensGraph(g: GraphBuilder, cfg: Qwen3VLConfig): void {
  const hidden = cfg.text.hiddenSize;
  const inputIds = g.input("input_ids", "int64", ["batch_size", "sequence_length"]);
  const table = g.weight(EMBED_TOKENS_WEIGHT); // [V, H]
  const embeds = g.scope("model/embed_tokens", () => g.op1("Gather", [table, inputIds], { axis: 0 }));
  g.output(embeds, "inputs_embeds", g.floatType, ["batch_size", "sequence_length", hidden]);
}
