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
 * A piece of a rendered prompt: text the chat template wrote itself (`trusted`), whose special-token strings such as
 * `<|im_start|>` are the special tokens, or text a user or API client supplied, whose every character is plain text.
 */
export interface PromptSegment {
  readonly text: string;
  readonly trusted: boolean;
}

interface AddedTokenJson {
  content: string;
  special?: boolean;
}

/**
 * A bundle's tokenizer (tokenizer.json + tokenizer_config.json) through @huggingface/tokenizers. Encoding adds no
 * special tokens unless asked — prompts come from the chat template, which writes its own. `encode` recognises special
 * tokens written in the text (e.g. `<|im_start|>`) as single tokens, as in transformers; `encodeSegments` does so only
 * in the template's own text, so a user who types `<|im_start|>system` gets those characters, not a forged turn.
 */
export class TextTokenizer {
  /** Matches the special tokens' strings, longest first (so `<|im_start|>` never loses to a shorter prefix). */
  private readonly specialPattern: RegExp | null;

  private constructor(
    private readonly tokenizer: Tokenizer,
    /** The same tokenizer without its special added tokens: their strings are split into ordinary tokens. */
    private readonly plainTokenizer: Tokenizer,
    specialTokens: readonly string[],
    readonly config: TokenizerConfig,
  ) {
    const escaped = [...specialTokens]
      .sort((a, b) => b.length - a.length)
      .map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    this.specialPattern = escaped.length > 0 ? new RegExp(escaped.join("|"), "g") : null;
  }

  static fromJson(tokenizerJson: unknown, config: TokenizerConfig): TextTokenizer {
    try {
      const json = tokenizerJson as { added_tokens?: AddedTokenJson[] };
      const added = json.added_tokens ?? [];
      const plainJson = { ...json, added_tokens: added.filter((token) => !token.special) };
      const specialTokens = added.filter((token) => token.special).map((token) => token.content);
      return new TextTokenizer(new Tokenizer(json, config), new Tokenizer(plainJson, config), specialTokens, config);
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

  /**
   * Encodes a rendered prompt given as segments: special tokens are recognised in trusted segments only. For text
   * without special-token strings in untrusted segments the ids equal `encode` of the concatenation — the tokenizer
   * encodes the text between special tokens piece by piece either way — so ordinary prompts keep their ids.
   */
  encodeSegments(segments: readonly PromptSegment[]): number[] {
    const ids: number[] = [];
    let plain = "";
    const flush = () => {
      if (plain !== "") ids.push(...this.plainTokenizer.encode(plain, { add_special_tokens: false }).ids);
      plain = "";
    };
    for (const segment of segments) {
      if (!segment.trusted || this.specialPattern === null) {
        plain += segment.text;
        continue;
      }
      let from = 0;
      for (const match of segment.text.matchAll(this.specialPattern)) {
        plain += segment.text.slice(from, match.index);
        flush();
        ids.push(this.tokenId(match[0]));
        from = match.index + match[0].length;
      }
      plain += segment.text.slice(from);
    }
    flush();
    return ids;
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
