/**
 * Chat sessions: the conversation behind POST /api/chat, so a follow-up sends only its new message.
 *
 * A session is a list of turns (the user's message: text and image ids; the answer's text) stored as JSON in the
 * BlobStore under `sessionKey(tenant, id)` with a TTL refreshed by every turn. Kept in the shared store, not in process
 * memory, so replicas sharing one Redis continue each other's sessions and a restart loses nothing. Images are kept by
 * id only: they live in the store under their own TTL, and a follow-up that names an expired one is refused with
 * image_not_found like any request.
 *
 * Session ids are random UUIDs chosen by the server, so they can neither collide nor be guessed, and a tenant's key
 * prefix keeps another tenant from reading them.
 */

import { randomUUID } from "node:crypto";
import { z } from "zod";
import { sessionKey } from "@/lib/cache/keys";
import { StoreUnavailableError, type BlobStore } from "@/lib/cache/store/blobStore";
import { parseImageId, type ImageId, type SessionId, type TenantId } from "@/lib/ids";
import type { GenerationRequestInput } from "@/lib/inference/request";
import { RequestError } from "./requestError";

export interface UserMessage {
  readonly text: string;
  readonly imageIds: readonly ImageId[];
}

export interface SessionTurn {
  readonly user: UserMessage;
  /** The answer as the client saw it (partial when the client stopped it or generation failed midway). */
  readonly answer: string;
}

export interface Session {
  readonly id: SessionId;
  readonly turns: readonly SessionTurn[];
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseSessionId(value: string): SessionId | null {
  return SESSION_ID.test(value) ? (value as SessionId) : null;
}

export function newSession(): Session {
  return { id: randomUUID() as SessionId, turns: [] };
}

/** The conversation as pipeline messages: every earlier turn (question, answer), then `next`. Images before text. */
export function conversationMessages(
  turns: readonly SessionTurn[],
  next: UserMessage,
): GenerationRequestInput["messages"] {
  const user = (message: UserMessage): GenerationRequestInput["messages"][number] => ({
    role: "user",
    content: [
      ...message.imageIds.map((imageId) => ({ type: "image" as const, imageId })),
      ...(message.text === "" && message.imageIds.length > 0 ? [] : [{ type: "text" as const, text: message.text }]),
    ],
  });
  return [
    ...turns.flatMap((turn) => [user(turn.user), { role: "assistant" as const, content: turn.answer }]),
    user(next),
  ];
}

/** Regenerate: the conversation as if the last answer (and the question it answered) had never been given. */
export function withoutLastTurn(session: Session): Session {
  if (session.turns.length === 0) {
    throw new RequestError(400, "nothing_to_regenerate", `session ${session.id} has no answer to regenerate yet`);
  }
  return { ...session, turns: session.turns.slice(0, -1) };
}

/**
 * Edit: the conversation as if only its first `keepTurns` turns had been given, so the next message takes the place
 * of turn `keepTurns` and every turn after it. `keepTurns` equal to the number of turns keeps them all (a plain
 * follow-up); more than that names a turn the session does not have, and is refused.
 */
export function withFirstTurns(session: Session, keepTurns: number): Session {
  if (keepTurns > session.turns.length) {
    throw new RequestError(
      400,
      "turn_out_of_range",
      `keepTurns is ${keepTurns}, but session ${session.id} has ${session.turns.length} turn(s): it must be between 0 and ${session.turns.length}`,
    );
  }
  return { ...session, turns: session.turns.slice(0, keepTurns) };
}

export function withTurn(session: Session, turn: SessionTurn): Session {
  return { ...session, turns: [...session.turns, turn] };
}

const storedSessionSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  turns: z.array(
    z.object({
      user: z.object({
        text: z.string(),
        imageIds: z.array(
          z
            .string()
            .refine((value) => parseImageId(value) !== null)
            .transform((value) => value as ImageId),
        ),
      }),
      answer: z.string(),
    }),
  ),
});

type StoredSession = { version: 1; id: string; turns: readonly SessionTurn[] };

/**
 * Lifetimes: a session is kept `ttlSeconds` after its last turn once it has a follow-up, but a chat of one turn —
 * most chats of scripts and load, which never continue — only `firstTurnTtlSeconds` (≤ ttlSeconds): every new chat
 * stores a session, since nobody can know whether a follow-up will come, and a day of one-shot chats would otherwise
 * fill the store's budget for user data with conversations nobody continues. A follow-up within that time gets the
 * full lifetime.
 */
export interface SessionLifetimes {
  readonly ttlSeconds: number;
  readonly firstTurnTtlSeconds: number;
}

export class SessionStore {
  constructor(
    private readonly store: BlobStore,
    private readonly lifetimes: SessionLifetimes,
  ) {}

  /**
   * The session, or null when it is unknown or expired. A stored value that does not parse (written by an incompatible
   * version) counts as unknown. Rejects with StoreUnavailableError when the store cannot answer, since "not found"
   * would be a guess then (the API answers 503 store_unavailable).
   */
  async load(tenant: TenantId, id: SessionId): Promise<Session | null> {
    const bytes = await this.store.strict.get(sessionKey(tenant, id));
    if (bytes === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      return null;
    }
    const parsed = storedSessionSchema.safeParse(json);
    if (!parsed.success || parsed.data.id !== id) return null;
    return { id, turns: parsed.data.turns };
  }

  /**
   * Writes the session and restarts its TTL; rejects (StoreUnavailableError, StoreFullError) when it was not written.
   */
  async save(tenant: TenantId, session: Session): Promise<void> {
    const record = { version: 1, id: session.id, turns: session.turns } satisfies StoredSession;
    const { ttlSeconds, firstTurnTtlSeconds } = this.lifetimes;
    const ttl = session.turns.length > 1 ? ttlSeconds : Math.min(firstTurnTtlSeconds, ttlSeconds);
    await this.store.strict.set(sessionKey(tenant, session.id), Buffer.from(JSON.stringify(record)), ttl);
  }

  /**
   * Throws StoreUnavailableError while the store is known to be down: a new chat's turn is saved only at its end, and
   * generating an answer that cannot be kept would waste the model and leave the client a session that does not exist.
   */
  assertReachable(): void {
    if (!this.store.isHealthy()) throw new StoreUnavailableError("the session store is unreachable right now");
  }

  /** True when the session existed; rejects with StoreUnavailableError when the store cannot tell. */
  async delete(tenant: TenantId, id: SessionId): Promise<boolean> {
    return (await this.store.strict.del(sessionKey(tenant, id))) > 0;
  }
}
