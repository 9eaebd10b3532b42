import { describe, expect, it } from "vitest";
import { StopStringMatcher } from "@/lib/text/stopStrings";

/** Feeds pieces and returns everything emitted plus whether it stopped. */
function run(stops: string[], pieces: string[]): { text: string; stopped: boolean } {
  const matcher = new StopStringMatcher(stops);
  let text = "";
  for (const piece of pieces) {
    const out = matcher.push(piece);
    text += out.text;
    if (out.stopped) return { text, stopped: true };
  }
  return { text: text + matcher.flush(), stopped: false };
}

describe("StopStringMatcher", () => {
  it("stops at a stop string inside one piece and drops it and what follows", () => {
    expect(run(["END"], ["hello END world"])).toEqual({ text: "hello ", stopped: true });
  });

  it("catches a stop string split across pieces", () => {
    expect(run(["</answer>"], ["The result is 4", "</ans", "wer> trailing"])).toEqual({
      text: "The result is 4",
      stopped: true,
    });
    expect(run(["STOP"], ["S", "T", "O", "P", "x"])).toEqual({ text: "", stopped: true });
  });

  it("holds back a possible start and releases it once ruled out", () => {
    const matcher = new StopStringMatcher(["###"]);
    expect(matcher.push("a #")).toEqual({ text: "a ", stopped: false });
    expect(matcher.push("#")).toEqual({ text: "", stopped: false });
    expect(matcher.push("b")).toEqual({ text: "##b", stopped: false });
  });

  it("releases a held partial match at the end of generation", () => {
    expect(run(["<|stop|>"], ["value <|st"])).toEqual({ text: "value <|st", stopped: false });
  });

  it("picks the earliest of several stop strings", () => {
    expect(run(["world", "lo w"], ["hel", "lo world"])).toEqual({ text: "hel", stopped: true });
    expect(run(["bc", "abcd"], ["xab", "cd"])).toEqual({ text: "x", stopped: true });
  });

  it("handles overlapping prefixes (aab inside aaab)", () => {
    expect(run(["aab"], ["a", "a", "a", "b"])).toEqual({ text: "a", stopped: true });
  });

  it("emits nothing after stopping", () => {
    const matcher = new StopStringMatcher(["x"]);
    expect(matcher.push("1x2")).toEqual({ text: "1", stopped: true });
    expect(matcher.push("more")).toEqual({ text: "", stopped: true });
    expect(matcher.flush()).toBe("");
    expect(matcher.hasStopped).toBe(true);
  });

  it("passes text straight through without stop strings (empty ones are ignored)", () => {
    expect(run([], ["a", "b"])).toEqual({ text: "ab", stopped: false });
    expect(run([""], ["a", "b"])).toEqual({ text: "ab", stopped: false });
  });

  it("handles multi-byte characters in stop strings", () => {
    expect(run(["。\n"], ["你好", "。", "\n再见"])).toEqual({ text: "你好", stopped: true });
  });
});
