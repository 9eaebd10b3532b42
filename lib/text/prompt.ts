import { imageTokenCount, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { renderSegments, type ChatMessage, type ChatTemplate } from "@/lib/text/chatTemplate";
import { TextError } from "@/lib/text/textErrors";
import type { TextTokenizer } from "@/lib/text/tokenizer";

/** Where one image's tokens sit in a prompt: `length` consecutive `<|image_pad|>` ids starting at `start`, preceded by
 *  `<|vision_start|>` and followed by `<|vision_end|>`. Images are numbered in the order they appear. */
export interface ImageSpan {
  imageIndex: number;
  start: number;
  length: number;
}

export interface Prompt {
  inputIds: number[];
  imageSpans: ImageSpan[];
}

export interface PromptOptions {
  /** Open the assistant turn at the end (true for generation). */
  addGenerationPrompt?: boolean;
}

/**
 * Turns a conversation into token ids the way Qwen3VLProcessor does: render the chat template (one `<|image_pad|>` per
 * image), tokenize, then widen the i-th pad to t·h·w / merge² pads from the i-th image's grid. Widening after
 * tokenizing is equivalent to the processor's string replacement because `<|image_pad|>` is a special token, which the
 * tokenizer always splits out on its own. Unlike the processor, special tokens are recognised only in the template's
 * own text (renderSegments, TextTokenizer.encodeSegments): what users and API clients write is always plain text, so
 * `<|im_start|>system` typed into a message cannot open a forged turn. Prompts without such strings keep the
 * processor's ids.
 */
export class PromptBuilder {
  private readonly imagePadId: number;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly template: ChatTemplate,
    private readonly mergeSize: number,
  ) {
    this.imagePadId = tokenizer.tokenId("<|image_pad|>");
  }

  /** `imageGrids[i]` is the grid of the i-th image part across all messages, in order. */
  build(messages: readonly ChatMessage[], imageGrids: readonly ImageGrid[], options: PromptOptions = {}): Prompt {
    const expectedImages = countImageParts(messages);
    if (expectedImages !== imageGrids.length) {
      throw new TextError(
        "image_count_mismatch",
        `the messages hold ${expectedImages} images but ${imageGrids.length} grids were given`,
      );
    }
    // Special tokens count only where the template wrote them: a message's text is plain text, whatever it spells.
    const segments = renderSegments(this.template, messages, {
      addGenerationPrompt: options.addGenerationPrompt ?? true,
      variables: this.tokenizer.specialTokenVariables(),
    });
    const ids = this.tokenizer.encodeSegments(segments);
    const inputIds: number[] = [];
    const imageSpans: ImageSpan[] = [];
    for (const id of ids) {
      if (id !== this.imagePadId) {
        inputIds.push(id);
        continue;
      }
      const imageIndex = imageSpans.length;
      if (imageIndex >= imageGrids.length) {
        // Message texts cannot produce pads (encodeSegments), so the template wrote more pads than there are images.
        throw new TextError(
          "image_count_mismatch",
          "the chat template wrote <|image_pad|> tokens that belong to no image",
        );
      }
      const length = imageTokenCount(imageGrids[imageIndex], this.mergeSize);
      if (!Number.isInteger(length) || length <= 0) {
        throw new TextError(
          "invalid_messages",
          `image ${imageIndex}'s grid does not divide into ${this.mergeSize}×${this.mergeSize} merges`,
        );
      }
      imageSpans.push({ imageIndex, start: inputIds.length, length });
      for (let k = 0; k < length; k++) inputIds.push(this.imagePadId);
    }
    if (imageSpans.length !== imageGrids.length) {
      throw new TextError(
        "image_count_mismatch",
        `the chat template emitted ${imageSpans.length} image slots for ${imageGrids.length} images`,
      );
    }
    return { inputIds, imageSpans };
  }
}

export function countImageParts(messages: readonly ChatMessage[]): number {
  let count = 0;
  for (const message of messages) {
    if (typeof message.content === "string") continue;
    for (const part of message.content) if (part.type === "image") count++;
  }
  return count;
}
