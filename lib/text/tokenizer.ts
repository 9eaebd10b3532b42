import { readFile } from "node:fs/promises";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { TextError } from "@/lib/text/textErrors";

/** tokenizer_config.json fields vlcache reads; special tokens appear either as strings or as AddedToken objects. */
export interface TokenizerConfig {
  chat_template?: unknown;
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  [key: string]: unknown;
}

function tokenContent(token: unknown): string | null {
  if (typeof token === "string") return token;
  if (token !== null && typeof token === "object" && typeof (token as { content?: unknown }).content === "string") {
    return (token as { content: string }).content;
  }
  return null;
}

/**
 * A bundle's tokenizer (tokenizer.json + tokenizer_config.json) through @huggingface/tokenizers. Encoding adds no
 * special tokens unless asked — prompts come from the chat template, which writes its own — and special tokens written
 * in the text (e.g. `<|im_start|>`) are recognised as single tokens, as in transformers.
 */
export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly config: TokenizerConfig,
  ) {}

  static fromJson(tokenizerJson: unknown, config: TokenizerConfig): TextTokenizer {
    try {
      return new TextTokenizer(new Tokenizer(tokenizerJson as object, config), config);
    } catch (error) {
      throw new TextError("invalid_tokenizer", `cannot build the tokenizer: ${(error as Error).message}`);
    }
  }

  /** Reads `<dir>/tokenizer.json` and `<dir>/tokenizer_config.json`. */
  static async load(dir: string): Promise<TextTokenizer> {
    const read = async (name: string) => {
      const file = path.join(dir, name);
      try {
        return JSON.parse(await readFile(file, "utf8")) as unknown;
      } catch (error) {
        throw new TextError("invalid_tokenizer", `cannot read ${file}: ${(error as Error).message}`);
      }
    };
    const [json, config] = await Promise.all([read("tokenizer.json"), read("tokenizer_config.json")]);
    return TextTokenizer.fromJson(json, config as TokenizerConfig);
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of a token that must exist (e.g. `<|image_pad|>`); a bundle without it is broken. */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new TextError("invalid_tokenizer", `the tokenizer has no token ${token}`);
    return id;
  }

  /** The special-token strings chat templates may refer to (`bos_token`, `eos_token`, …), as template variables. */
  specialTokenVariables(): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const name of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const content = tokenContent(this.config[name]);
      if (content !== null) vars[name] = content;
    }
    return vars;
  }
}
