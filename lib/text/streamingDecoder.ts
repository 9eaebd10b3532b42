/** Decodes a slice of token ids to text (e.g. TextTokenizer.decode with the desired special-token handling). */
export type DecodeFn = (ids: readonly number[]) => string;

const REPLACEMENT = "\uFFFD";

/**
 * Turns a stream of token ids into a stream of text pieces whose concatenation equals decoding all ids at once.
 *
 * Byte-level BPE splits characters across tokens (an emoji can take three tokens), and decoding a partial character
 * yields U+FFFD. So text is held back while the decoded tail ends in U+FFFD and released once the character is
 * complete. Decoding re-reads only a short window: ids from `prefixStart` (a few tokens before the unreleased ones, so
 * context-dependent decoders such as leading-space rules see the same neighbourhood) — O(1) work per token.
 *
 * Invariants: ids[0 : readStart] have been released as text, the ids after readStart are held; prefixStart ≤ readStart.
 * A genuine U+FFFD at the end of the output stays held until `flush`.
 */
export class StreamingDecoder {
  private readonly ids: number[] = [];
  private prefixStart = 0;
  private readStart = 0;

  constructor(private readonly decode: DecodeFn) {}

  /** Adds one token; returns the text it completes ("" while a character is still partial). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.decode(this.ids.slice(this.prefixStart, this.readStart));
    const fullText = this.decode(this.ids.slice(this.prefixStart));
    if (fullText.length <= prefixText.length || fullText.endsWith(REPLACEMENT)) return "";
    this.prefixStart = this.readStart;
    this.readStart = this.ids.length;
    return fullText.slice(prefixText.length);
  }

  /** Releases whatever is still held back (an incomplete character decodes to U+FFFD, as a full decode would). */
  flush(): string {
    const prefixText = this.decode(this.ids.slice(this.prefixStart, this.readStart));
    const fullText = this.decode(this.ids.slice(this.prefixStart));
    this.prefixStart = this.readStart = this.ids.length;
    return fullText.slice(prefixText.length);
  }

  /** Every id pushed so far. */
  get tokenIds(): readonly number[] {
    return this.ids;
  }
}
