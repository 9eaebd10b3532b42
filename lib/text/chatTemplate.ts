import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";
import { TextError } from "@/lib/text/textErrors";
import type { PromptSegment } from "@/lib/text/tokenizer";

/** Where a bundle's chat template came from, in the order transformers looks for one. */
export type ChatTemplateSource = "chat_template.jinja" | "chat_template.json" | "tokenizer_config.json" | "built-in";

/** One part of a message: text, or an image placeholder (the image itself travels separately, in order). */
export type ContentPart = { type: "text"; text: string } | { type: "image" };

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string | ContentPart[];
}

export interface RenderOptions {
  addGenerationPrompt: boolean;
  /** Template variables such as bos_token / eos_token (see TextTokenizer.specialTokenVariables). */
  variables?: Record<string, unknown>;
}

/** vlcache's own Qwen3-VL template, used when a bundle ships none. */
export const BUILT_IN_TEMPLATE_PATH = fileURLToPath(new URL("./templates/qwen3-vl.jinja", import.meta.url));

/** A parsed chat template. Rendering emits ONE `<|image_pad|>` per image; the prompt builder expands it. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: ChatTemplateSource,
    readonly text: string,
  ) {
    try {
      this.template = new Template(text);
    } catch (error) {
      throw new TextError(
        "invalid_chat_template",
        `chat template from ${source} does not parse: ${(error as Error).message}`,
      );
    }
  }

  render(messages: readonly ChatMessage[], options: RenderOptions): string {
    try {
      return this.template.render({
        ...options.variables,
        messages,
        add_generation_prompt: options.addGenerationPrompt,
      });
    } catch (error) {
      // Templates reject what they cannot express (e.g. an unknown role) with raise_exception.
      throw new TextError("chat_template_failed", `chat template: ${(error as Error).message}`);
    }
  }
}

/**
 * Renders like `render`, but returns the prompt as segments that keep apart what the template wrote (trusted) from the
 * messages' texts (untrusted), so that special tokens are recognised only in the template's own text
 * (TextTokenizer.encodeSegments). Each text is replaced by a placeholder that no text can contain (it carries a random
 * nonce), the template is rendered, and the placeholders are swapped back as untrusted segments. A template must
 * therefore insert each text verbatim and once, as the chat templates of Qwen-VL do; one that transforms or repeats
 * the text is refused.
 */
export function renderSegments(
  template: ChatTemplate,
  messages: readonly ChatMessage[],
  options: RenderOptions,
): PromptSegment[] {
  const nonce = randomUUID();
  const texts: string[] = [];
  const placeholder = (text: string) => `\u{F8FF}vlcache-text-${nonce}-${texts.push(text) - 1}\u{F8FF}`;
  const withPlaceholders = messages.map((message): ChatMessage => ({
    role: message.role,
    content:
      typeof message.content === "string"
        ? placeholder(message.content)
        : message.content.map((part): ContentPart =>
            part.type === "text" ? { type: "text", text: placeholder(part.text) } : part,
          ),
  }));
  const rendered = template.render(withPlaceholders, options);
  const pieces = rendered.split(new RegExp(`\u{F8FF}vlcache-text-${nonce}-(\\d+)\u{F8FF}`, "u"));
  // split with one capture group: [template, index, template, index, …, template]
  const segments: PromptSegment[] = [];
  const seen = new Set<number>();
  pieces.forEach((piece, i) => {
    if (i % 2 === 0) {
      if (piece !== "") segments.push({ text: piece, trusted: true });
      return;
    }
    const index = Number(piece);
    if (seen.has(index) || index !== seen.size) {
      throw new TextError(
        "invalid_chat_template",
        "the chat template repeats or reorders message texts, which vlcache cannot tokenize safely",
      );
    }
    seen.add(index);
    if (texts[index] !== "") segments.push({ text: texts[index], trusted: false });
  });
  if (seen.size !== texts.length) {
    throw new TextError(
      "invalid_chat_template",
      "the chat template changes or drops message texts, which vlcache cannot tokenize safely",
    );
  }
  return segments;
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** tokenizer_config's chat_template is a string, or a list of named templates of which "default" is the chat one. */
function templateFromConfigValue(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t && typeof t === "object" && (t as { name?: unknown }).name === "default");
    const template = (named as { template?: unknown } | undefined)?.template;
    if (typeof template === "string") return template;
  }
  return null;
}

/**
 * Finds a bundle's chat template: `chat_template.jinja`, else `chat_template.json`'s `chat_template`, else
 * tokenizer_config.json's `chat_template`, else the built-in Qwen3-VL template.
 */
export async function loadChatTemplate(
  dir: string,
  tokenizerConfig: { chat_template?: unknown } = {},
): Promise<ChatTemplate> {
  const jinja = await readOptional(path.join(dir, "chat_template.jinja"));
  if (jinja !== null) return new ChatTemplate("chat_template.jinja", jinja);
  const json = await readOptional(path.join(dir, "chat_template.json"));
  if (json !== null) {
    let template: string | null = null;
    try {
      template = templateFromConfigValue((JSON.parse(json) as { chat_template?: unknown }).chat_template);
    } catch (error) {
      throw new TextError("invalid_chat_template", `chat_template.json: ${(error as Error).message}`);
    }
    if (template === null)
      throw new TextError("invalid_chat_template", "chat_template.json has no chat_template string");
    return new ChatTemplate("chat_template.json", template);
  }
  const fromConfig = templateFromConfigValue(tokenizerConfig.chat_template);
  if (fromConfig !== null) return new ChatTemplate("tokenizer_config.json", fromConfig);
  return builtInChatTemplate();
}

export async function builtInChatTemplate(): Promise<ChatTemplate> {
  return new ChatTemplate("built-in", await readFile(BUILT_IN_TEMPLATE_PATH, "utf8"));
}
