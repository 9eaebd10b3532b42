import { describe, expect, it } from "vitest";
import { guardSend, type SendAttempt } from "./sendGuard";

const base: SendAttempt = {
  text: "What is in the image?",
  imageCount: 0,
  uploading: 0,
  unavailable: null,
  streaming: false,
  now: 10_000,
  lastPressAt: null,
  debounceMs: 300,
};

describe("guardSend", () => {
  it("sends the first press at once and remembers its time", () => {
    expect(guardSend(base)).toEqual({ decision: { send: true }, lastPressAt: 10_000 });
  });

  it("sends again once the debounce window has passed", () => {
    expect(guardSend({ ...base, lastPressAt: 9_700 })).toEqual({ decision: { send: true }, lastPressAt: 10_000 });
  });

  it("swallows a press inside the window and extends the window from it", () => {
    expect(guardSend({ ...base, lastPressAt: 9_701 })).toEqual({
      decision: { send: false, reason: "debounced" },
      lastPressAt: 10_000,
    });
  });

  it("sends once for a burst of presses 100 ms apart, then again after a pause", () => {
    let lastPressAt: number | null = null;
    const sentAt: number[] = [];
    for (const now of [0, 100, 200, 300, 400, 800, 900]) {
      const result = guardSend({ ...base, now, lastPressAt });
      lastPressAt = result.lastPressAt;
      if (result.decision.send) sentAt.push(now);
    }
    expect(sentAt).toEqual([0, 800]);
  });

  it("refuses while an answer streams, however long ago the last press was", () => {
    expect(guardSend({ ...base, streaming: true, lastPressAt: 0 })).toEqual({
      decision: { send: false, reason: "streaming" },
      lastPressAt: 0,
    });
  });

  it("refuses blank text without touching the debounce window", () => {
    expect(guardSend({ ...base, text: "  \n ", lastPressAt: 9_900 })).toEqual({
      decision: { send: false, reason: "empty" },
      lastPressAt: 9_900,
    });
  });

  it("sends an image without text", () => {
    expect(guardSend({ ...base, text: "", imageCount: 1 }).decision).toEqual({ send: true });
  });

  it("refuses while the server cannot answer, without touching the debounce window", () => {
    expect(guardSend({ ...base, unavailable: "No model is loaded on the server.", lastPressAt: 5 })).toEqual({
      decision: { send: false, reason: "unavailable" },
      lastPressAt: 5,
    });
  });

  it("refuses as 'uploading' while images upload, even with no text yet", () => {
    expect(guardSend({ ...base, text: "", uploading: 1 })).toEqual({
      decision: { send: false, reason: "uploading" },
      lastPressAt: 10_000,
    });
  });

  it("never debounces when the window is zero", () => {
    expect(guardSend({ ...base, debounceMs: 0, lastPressAt: 10_000 }).decision).toEqual({ send: true });
  });
});
