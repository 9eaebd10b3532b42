import { StopStringMatcher } from "@/lib/text/stopStrings";
import { StreamingDecoder, type DecodeFn } from "@/lib/text/streamingDecoder";

export interface CompletionStep {
  /** Text to emit now (may be empty). */
  readonly text: string;
  /** The answer has ended: a stop token or a stop string. Nothing more may be emitted. */
  readonly stopped: boolean;
}

/**
 * The text side of one answer: turns generated token ids into text pieces and decides where the answer ends.
 *
 * A stop token (EOS of generation_config, `<|im_end|>`) ends the answer and contributes no text; whatever was held
 * back (an incomplete character, a possible beginning of a stop string) is released then. A stop string ends the
 * answer right before it: neither it nor anything after it is ever emitted. Pieces never split a multi-byte character
 * (StreamingDecoder), so concatenating every emitted piece gives the answer's text.
 *
 * The same object serves live generation and the replay of a stored answer (L3), which is what makes a replayed
 * stream identical to the generated one.
 */
export class CompletionText {
  private readonly decoder: StreamingDecoder;
  private readonly matcher: StopStringMatcher;
  private ended = false;
  private emitted = "";

  constructor(
    decode: DecodeFn,
    private readonly stopTokenIds: ReadonlySet<number>,
    stopStrings: readonly string[],
  ) {
    this.decoder = new StreamingDecoder(decode);
    this.matcher = new StopStringMatcher(stopStrings);
  }

  push(tokenId: number): CompletionStep {
    if (this.ended) throw new Error("CompletionText: token pushed after the answer ended");
    if (this.stopTokenIds.has(tokenId)) {
      const rest = this.finish();
      return { text: rest, stopped: true };
    }
    const match = this.matcher.push(this.decoder.push(tokenId));
    if (match.stopped) this.ended = true;
    return this.record({ text: match.text, stopped: match.stopped });
  }

  /** Ends the answer for another reason (token limit): releases the text still held back. */
  finish(): string {
    if (this.ended) return "";
    this.ended = true;
    const match = this.matcher.push(this.decoder.flush());
    return this.record({ text: match.stopped ? match.text : match.text + this.matcher.flush(), stopped: true }).text;
  }

  /** Everything emitted so far. */
  get text(): string {
    return this.emitted;
  }

  private record(step: CompletionStep): CompletionStep {
    this.emitted += step.text;
    return step;
  }
}
