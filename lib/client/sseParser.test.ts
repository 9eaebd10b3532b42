import { describe, expect, it } from "vitest";
import { createSseParser, type SseMessage } from "./sseParser";

function parseChunks(chunks: string[]): SseMessage[] {
  const parser = createSseParser();
  const messages = chunks.flatMap((chunk) => parser.push(chunk));
  parser.end();
  return messages;
}

/** Splits `text` at the given offsets (ascending), e.g. split("abcd", [1, 3]) → ["a", "bc", "d"]. */
function split(text: string, offsets: number[]): string[] {
  const pieces: string[] = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(text.slice(start, offset));
    start = offset;
  }
  pieces.push(text.slice(start));
  return pieces;
}

/** Deterministic PRNG (mulberry32) so random chunkings are reproducible. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A stream mixing every feature: comments, CRLF and lone CR endings, multi-line data, ids, unknown fields, unicode.
const MIXED_STREAM =
  ": keep-alive\n\n" +
  'event: meta\ndata: {"sessionId":"s1"}\n\n' +
  'event: token\r\ndata: {"text":"Hé"}\r\n\r\n' +
  "id: 7\revent: token\rdata: line one\rdata: line two\r\r" +
  ":another comment\nretry: 1000\nfoo: bar\nevent: done\ndata:no-space\ndata:  two spaces\n\n";

const MIXED_EXPECTED: SseMessage[] = [
  { event: "meta", data: '{"sessionId":"s1"}', lastEventId: "" },
  { event: "token", data: '{"text":"Hé"}', lastEventId: "" },
  { event: "token", data: "line one\nline two", lastEventId: "7" },
  { event: "done", data: "no-space\n two spaces", lastEventId: "7" },
];

describe("createSseParser", () => {
  it("parses a whole stream with every kind of line ending, comment and field", () => {
    expect(parseChunks([MIXED_STREAM])).toEqual(MIXED_EXPECTED);
  });

  it("gives the same messages for every single split point", () => {
    for (let offset = 0; offset <= MIXED_STREAM.length; offset++) {
      expect(parseChunks(split(MIXED_STREAM, [offset])), `split at ${offset}`).toEqual(MIXED_EXPECTED);
    }
  });

  it("gives the same messages when fed one character at a time", () => {
    expect(parseChunks([...MIXED_STREAM])).toEqual(MIXED_EXPECTED);
  });

  it("gives the same messages for random chunkings, empty chunks included", () => {
    const random = prng(42);
    for (let round = 0; round < 200; round++) {
      const offsets = Array.from({ length: 1 + Math.floor(random() * 12) }, () =>
        Math.floor(random() * (MIXED_STREAM.length + 1)),
      ).sort((a, b) => a - b);
      expect(parseChunks(split(MIXED_STREAM, offsets)), `offsets ${offsets.join(",")}`).toEqual(MIXED_EXPECTED);
    }
  });

  it("treats a \\r at the end of one chunk and a \\n at the start of the next as one line ending", () => {
    // Were the \r\n counted as two endings, the empty line between them would dispatch `a` early and lose `b`.
    expect(parseChunks(["data: a\r", "\ndata: b\r", "\n\r", "\n"])).toEqual([
      { event: "message", data: "a\nb", lastEventId: "" },
    ]);
  });

  it("names events without an event field `message` and resets the type after each dispatch", () => {
    expect(parseChunks(["event: token\ndata: x\n\ndata: y\n\n"])).toEqual([
      { event: "token", data: "x", lastEventId: "" },
      { event: "message", data: "y", lastEventId: "" },
    ]);
  });

  it("dispatches nothing for a block without data, and forgets its event type", () => {
    expect(parseChunks(["event: token\n\n: ping\n\ndata: z\n\n"])).toEqual([
      { event: "message", data: "z", lastEventId: "" },
    ]);
  });

  it("reads a field name without a colon as a field with an empty value", () => {
    expect(parseChunks(["data\ndata\n\n"])).toEqual([{ event: "message", data: "\n", lastEventId: "" }]);
  });

  it("keeps the last id across messages and ignores ids containing NUL", () => {
    expect(parseChunks(["id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"])).toEqual([
      { event: "message", data: "a", lastEventId: "1" },
      { event: "message", data: "b", lastEventId: "1" },
    ]);
  });

  it("strips a byte order mark at the very start of the stream only", () => {
    expect(parseChunks(["\uFEFFdata: a\n\n", "data: \uFEFFb\n\n"])).toEqual([
      { event: "message", data: "a", lastEventId: "" },
      { event: "message", data: "\uFEFFb", lastEventId: "" },
    ]);
  });

  it("discards a message cut off by the end of the stream", () => {
    const parser = createSseParser();
    expect(parser.push("data: complete\n\ndata: cut")).toEqual([
      { event: "message", data: "complete", lastEventId: "" },
    ]);
    parser.end();
    expect(parser.push("\n\n")).toEqual([]);
  });

  it("returns nothing until the blank line arrives", () => {
    const parser = createSseParser();
    expect(parser.push("event: token\n")).toEqual([]);
    expect(parser.push('data: {"text":"a"}\n')).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "token", data: '{"text":"a"}', lastEventId: "" }]);
  });
});
