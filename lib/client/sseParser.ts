/**
 * Incremental parser for `text/event-stream` (the WHATWG "server-sent events" interpretation rules), fed with decoded
 * text in chunks of any size. Chunk boundaries may fall anywhere: inside a field name, between `\r` and `\n`, or in
 * the middle of a blank line; the messages produced are the same as for the whole stream at once.
 *
 * Invariants: `buffer` never holds a complete line; `pendingCarriageReturn` is true only when the last character
 * seen was a `\r` that ended a line, so a `\n` arriving first in the next chunk belongs to that same line ending.
 */

export interface SseMessage {
  /** The `event:` field, `message` when the server sent none. */
  event: string;
  /** Every `data:` line of the message joined with `\n`. */
  data: string;
  /** The last `id:` seen so far in the stream (it carries over to later messages, as in EventSource). */
  lastEventId: string;
}

export interface SseParser {
  /** Feeds the next piece of text and returns the messages it completed, in order. */
  push(chunk: string): SseMessage[];
  /**
   * Marks the end of the stream. Like EventSource, a message without its terminating blank line is discarded, so a
   * connection cut in the middle of an event never yields half of it.
   */
  end(): void;
}

const BYTE_ORDER_MARK = "\uFEFF";

export function createSseParser(): SseParser {
  let buffer = "";
  let atStreamStart = true;
  let pendingCarriageReturn = false;
  let eventType = "";
  let dataLines: string[] = [];
  let lastEventId = "";

  function processLine(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (dataLines.length > 0) {
        out.push({ event: eventType === "" ? "message" : eventType, data: dataLines.join("\n"), lastEventId });
      }
      eventType = "";
      dataLines = [];
      return;
    }
    if (line.startsWith(":")) return; // comment, used as keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        eventType = value;
        break;
      case "data":
        dataLines.push(value);
        break;
      case "id":
        if (!value.includes("\0")) lastEventId = value;
        break;
      default:
        // `retry` only matters to auto-reconnecting EventSource clients; unknown fields are ignored by the spec.
        break;
    }
  }

  return {
    push(chunk: string): SseMessage[] {
      let text = chunk;
      if (pendingCarriageReturn && text.startsWith("\n")) text = text.slice(1);
      if (text.length > 0) pendingCarriageReturn = false;
      if (atStreamStart && text.length > 0) {
        atStreamStart = false;
        if (text.startsWith(BYTE_ORDER_MARK)) text = text.slice(1);
      }
      buffer += text;

      const out: SseMessage[] = [];
      let lineStart = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i];
        if (ch !== "\n" && ch !== "\r") continue;
        processLine(buffer.slice(lineStart, i), out);
        if (ch === "\r") {
          if (i + 1 < buffer.length) {
            if (buffer[i + 1] === "\n") i++;
          } else {
            pendingCarriageReturn = true;
          }
        }
        lineStart = i + 1;
      }
      buffer = buffer.slice(lineStart);
      return out;
    },
    end(): void {
      buffer = "";
      eventType = "";
      dataLines = [];
      pendingCarriageReturn = false;
    },
  };
}
