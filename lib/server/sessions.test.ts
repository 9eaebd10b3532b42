import { describe, expect, it } from "vitest";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { RedisBlobStore, createRedisClient } from "@/lib/cache/store/redisBlobStore";
import { createLogger } from "@/lib/log";
import type { ImageId, SessionId, TenantId } from "@/lib/ids";
import { RequestError } from "./requestError";
import {
  SessionStore,
  conversationMessages,
  newSession,
  parseSessionId,
  withFirstTurns,
  withTurn,
  withoutLastTurn,
  type Session,
} from "./sessions";

const img = (c: string) => c.repeat(64) as ImageId;
const tenant = "public" as TenantId;

describe("session ids", () => {
  it("are random UUIDs, and only UUIDs parse", () => {
    const a = newSession();
    const b = newSession();
    expect(a.id).not.toBe(b.id);
    expect(parseSessionId(a.id)).toBe(a.id);
    expect(a.turns).toEqual([]);
    for (const bad of ["", "x", a.id.toUpperCase(), `${a.id}:x`, "vlc:v1:other:session:1"])
      expect(parseSessionId(bad)).toBeNull();
  });
});

describe("conversationMessages", () => {
  it("replays every turn as question and answer, images before the text, then the new message", () => {
    const turns = [
      { user: { text: "what is this?", imageIds: [img("a")] }, answer: "a cat" },
      { user: { text: "and its colour?", imageIds: [] }, answer: "grey" },
    ];
    expect(conversationMessages(turns, { text: "compare", imageIds: [img("b"), img("c")] })).toEqual([
      {
        role: "user",
        content: [
          { type: "image", imageId: img("a") },
          { type: "text", text: "what is this?" },
        ],
      },
      { role: "assistant", content: "a cat" },
      { role: "user", content: [{ type: "text", text: "and its colour?" }] },
      { role: "assistant", content: "grey" },
      {
        role: "user",
        content: [
          { type: "image", imageId: img("b") },
          { type: "image", imageId: img("c") },
          { type: "text", text: "compare" },
        ],
      },
    ]);
  });

  it("sends an image without text as the image alone", () => {
    expect(conversationMessages([], { text: "", imageIds: [img("a")] })).toEqual([
      { role: "user", content: [{ type: "image", imageId: img("a") }] },
    ]);
  });
});

describe("regenerate", () => {
  it("drops the last turn only", () => {
    const session = withTurn(withTurn(newSession(), { user: { text: "1", imageIds: [] }, answer: "a" }), {
      user: { text: "2", imageIds: [] },
      answer: "b",
    });
    expect(withoutLastTurn(session)).toEqual({ id: session.id, turns: [session.turns[0]] });
  });

  it("refuses a session without an answer", () => {
    expect(() => withoutLastTurn(newSession())).toThrow(RequestError);
  });
});

describe("withFirstTurns (edit an earlier question)", () => {
  const session = [1, 2, 3].reduce(
    (held, n) => withTurn(held, { user: { text: `q${n}`, imageIds: [] }, answer: `a${n}` }),
    newSession(),
  );

  it("keeps the first keepTurns turns, from none to all", () => {
    expect(withFirstTurns(session, 0)).toEqual({ id: session.id, turns: [] });
    expect(withFirstTurns(session, 1).turns.map((turn) => turn.user.text)).toEqual(["q1"]);
    expect(withFirstTurns(session, 3)).toEqual(session);
  });

  it("refuses a turn the session does not have, with 400 turn_out_of_range, leaving the session as it was", () => {
    const before = structuredClone(session);
    let refusal: unknown;
    try {
      withFirstTurns(session, 4);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(RequestError);
    expect(refusal).toMatchObject({
      status: 400,
      code: "turn_out_of_range",
      message: `keepTurns is 4, but session ${session.id} has 3 turn(s): it must be between 0 and 3`,
    });
    expect(session).toEqual(before);
  });
});

describe("SessionStore", () => {
  const store = () => new MemoryBlobStore({ maxBytes: 1 << 20 });

  it("round-trips a session under the tenant's session key, and deletes it", async () => {
    const blobs = store();
    const sessions = new SessionStore(blobs, { ttlSeconds: 60, firstTurnTtlSeconds: 60 });
    const session: Session = withTurn(newSession(), { user: { text: "hi ✓", imageIds: [img("a")] }, answer: "hello" });
    await sessions.save(tenant, session);
    expect(await blobs.get(`vlc:v1:public:session:${session.id}`)).not.toBeNull();
    expect(await sessions.load(tenant, session.id)).toEqual(session);
    expect(await sessions.load("other" as TenantId, session.id)).toBeNull();
    expect(await sessions.delete(tenant, session.id)).toBe(true);
    expect(await sessions.delete(tenant, session.id)).toBe(false);
    expect(await sessions.load(tenant, session.id)).toBeNull();
  });

  it("keeps a one-turn chat for the first-turn TTL, and a continued one for the full TTL after its last turn", async () => {
    let now = 0;
    const sessions = new SessionStore(new MemoryBlobStore({ maxBytes: 1 << 20, now: () => now }), {
      ttlSeconds: 600,
      firstTurnTtlSeconds: 60,
    });
    const oneShot = withTurn(newSession(), { user: { text: "q", imageIds: [] }, answer: "a" });
    await sessions.save(tenant, oneShot);
    const continued = withTurn(oneShot, { user: { text: "q2", imageIds: [] }, answer: "b" });
    const other = { ...continued, id: newSession().id };
    await sessions.save(tenant, other);
    now = 59_000;
    expect(await sessions.load(tenant, oneShot.id)).toEqual(oneShot);
    now = 61_000;
    expect(await sessions.load(tenant, oneShot.id)).toBeNull();
    now = 599_000;
    expect(await sessions.load(tenant, other.id)).toEqual(other);
    now = 601_000;
    expect(await sessions.load(tenant, other.id)).toBeNull();
  });

  it("rejects a save the store could not keep, and does not take a full store's refusal for success", async () => {
    const sessions = new SessionStore(new MemoryBlobStore({ maxBytes: 64, whenFull: "refuse" }), {
      ttlSeconds: 60,
      firstTurnTtlSeconds: 60,
    });
    const session = withTurn(newSession(), { user: { text: "q".repeat(100), imageIds: [] }, answer: "a" });
    await expect(sessions.save(tenant, session)).rejects.toMatchObject({ name: "StoreFullError" });
    expect(await sessions.load(tenant, session.id)).toBeNull();
  });

  it("says a new chat cannot be kept while the store is down, and lets it start while the store is up", async () => {
    // Nothing listens on port 1: the client stays disconnected, as during an outage.
    const down = new RedisBlobStore(createRedisClient("redis://127.0.0.1:1"), createLogger("silent"));
    try {
      const sessions = new SessionStore(down, { ttlSeconds: 60, firstTurnTtlSeconds: 60 });
      expect(() => sessions.assertReachable()).toThrow(expect.objectContaining({ name: "StoreUnavailableError" }));
      await expect(sessions.load(tenant, newSession().id)).rejects.toMatchObject({ name: "StoreUnavailableError" });
    } finally {
      await down.close();
    }
    expect(() =>
      new SessionStore(store(), { ttlSeconds: 60, firstTurnTtlSeconds: 60 }).assertReachable(),
    ).not.toThrow();
  });

  it("treats a stored value it cannot read as unknown", async () => {
    const blobs = store();
    const sessions = new SessionStore(blobs, { ttlSeconds: 60, firstTurnTtlSeconds: 60 });
    const id = newSession().id;
    for (const value of [
      "{",
      JSON.stringify({ version: 2, id, turns: [] }),
      JSON.stringify({ version: 1, id: "other", turns: [] }),
    ]) {
      await blobs.set(`vlc:v1:public:session:${id}`, Buffer.from(value), 60);
      expect(await sessions.load(tenant, id as SessionId)).toBeNull();
    }
  });
});
