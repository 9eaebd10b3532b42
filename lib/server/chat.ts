/**
 * POST /api/chat: one turn of a conversation, answered as an SSE stream (`meta`, `token`*, then `done` or `error`).
 *
 *   admit (tenant, rate limit) → read + validate the body → the model must be ready
 *   → take the session's turn lock → load the session (or start one) → regenerate: drop its last turn; keepTurns:
 *     keep only its first keepTurns turns (an edited earlier question; an index it does not have answers 400)
 *   → start the generation; refusals (unknown image, prompt too long, queue full …) answer plain JSON errors
 *   → stream; when it ends, save the turn into the session, then send `done`
 *
 * Session invariants:
 * - Turns are replaced (regenerate, keepTurns) only in the copy this turn builds on: the stored session changes when
 *   the new turn is saved, and not at all when the turn is refused or never reaches `meta`.
 * - A turn is saved exactly when its `meta` event was sent (the page treats such a turn as part of the session), with
 *   the answer text streamed so far: whole, or partial when the client stopped it or generation failed midway.
 * - The save happens before `done` is written, so a follow-up sent on `done` finds the turn. A save the store could not
 *   do ends the stream with `error` (store_unavailable, or store_full) instead of `done`: the answer was shown but is
 *   not part of the session.
 * - Turns of one session run one at a time, on this replica and across replicas sharing the store (sessionLocks.ts),
 *   so a follow-up sent while the previous turn is still finishing (Stop, then Send) waits for it instead of both
 *   building on the same history.
 */

import "server-only";
import type { ChatStreamEvent } from "@/lib/api/types";
import type { SessionId, TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import { admitClient } from "./apiGuard";
import { parseChatRequest, type ValidChatRequest } from "./chatRequest";
import { startGeneration, wireCache, wireDone, type StartedGeneration } from "./generation";
import { readJsonBody } from "./jsonBody";
import { asRequestError, errorAnswer, RequestError } from "./requestError";
import type { Runtime } from "./runtime";
import {
  conversationMessages,
  newSession,
  parseSessionId,
  withFirstTurns,
  withoutLastTurn,
  withTurn,
  type Session,
  type UserMessage,
} from "./sessions";
import type { ReleaseSessionLock } from "./sessionLocks";
import { encodeChatEvent, sseResponse } from "./sse";

export async function handleChat(request: Request, runtime: Runtime): Promise<Response> {
  const log = runtime.logger.child({ module: "chat" });
  try {
    const client = admitClient(request, runtime, { rateLimited: true });
    const body = parseChatRequest(await readJsonBody(request, runtime.config.maxJsonBodyBytes), runtime.config);
    const served = runtime.model.ready();

    // A new session is locked too: a follow-up sent as soon as the client saw `meta` waits for this turn's save.
    const sessionId = body.sessionId ?? newSession().id;
    const releaseLock = await runtime.sessionLocks.acquire(client.tenant, sessionId, request.signal);
    try {
      const session = await openSession(sessionId, body, client.tenant, runtime);
      const user: UserMessage = { text: body.message.text, imageIds: body.message.imageIds ?? [] };
      const generation = await startGeneration(
        served.pipeline,
        {
          messages: conversationMessages(session.turns, user),
          ...body.params,
          cache: body.cache ?? {},
          tenant: client.tenant,
        },
        request.signal,
      );
      const turn: TurnContext = { runtime, tenant: client.tenant, session, user, log, releaseLock };
      return sseResponse(streamTurn(generation, turn), { onCancel: () => generation.stop() });
    } catch (error) {
      await releaseLock();
      throw error;
    }
  } catch (error) {
    return errorAnswer(error, log);
  }
}

async function openSession(
  id: SessionId,
  body: ValidChatRequest,
  tenant: TenantId,
  runtime: Runtime,
): Promise<Session> {
  if (body.sessionId === undefined) {
    runtime.sessions.assertReachable();
    return { id, turns: [] };
  }
  const session = await runtime.sessions.load(tenant, id);
  if (session === null)
    throw new RequestError(404, "session_not_found", `no session ${id} (unknown, deleted or expired); start a new one`);
  if (body.regenerate) return withoutLastTurn(session);
  return body.keepTurns === undefined ? session : withFirstTurns(session, body.keepTurns);
}

interface TurnContext {
  readonly runtime: Runtime;
  readonly tenant: TenantId;
  readonly session: Session;
  readonly user: UserMessage;
  readonly log: Logger;
  /** Frees the session for its next turn; called once the turn is saved (or will not be). */
  readonly releaseLock: ReleaseSessionLock;
}

async function* streamTurn(generation: StartedGeneration, turn: TurnContext): AsyncGenerator<string> {
  const encode = (event: ChatStreamEvent) => encodeChatEvent(event);
  let metaSent = false;
  let answer = "";
  let ended = false;
  /**
   * Saves the turn once (when `meta` went out) and frees the session; every way out of the stream comes through here.
   */
  const end = async () => {
    if (ended) return;
    ended = true;
    try {
      if (metaSent) await turn.runtime.sessions.save(turn.tenant, withTurn(turn.session, { user: turn.user, answer }));
    } finally {
      await turn.releaseLock();
    }
  };

  try {
    for await (const event of generation.events) {
      if (event.type === "meta") {
        metaSent = true;
        yield encode({
          type: "meta",
          data: { sessionId: turn.session.id, turn: turn.session.turns.length, cache: wireCache(event.cache) },
        });
      } else if (event.type === "token") {
        answer += event.text;
        yield encode({ type: "token", data: { text: event.text } });
      } else {
        await end();
        // A cancelled generation means the client is gone; there is nobody to tell.
        if (event.finishReason !== "cancelled") yield encode({ type: "done", data: wireDone(event) });
      }
    }
  } catch (error) {
    await end();
    const refusal = asRequestError(error);
    if (!refusal) turn.log.error({ err: error, sessionId: turn.session.id }, "generation failed mid-stream");
    yield encode({
      type: "error",
      data: refusal
        ? { code: refusal.code, message: refusal.message }
        : { code: "internal_error", message: "generation failed; see the server log" },
    });
  } finally {
    await end();
  }
}

/** DELETE /api/sessions/:id → 204, or 404 for an unknown session. Waits for a turn still running on it to end. */
export async function handleDeleteSession(request: Request, id: string, runtime: Runtime): Promise<Response> {
  const log = runtime.logger.child({ module: "chat" });
  try {
    const client = admitClient(request, runtime, { rateLimited: false });
    const sessionId = parseSessionId(id);
    if (sessionId === null)
      throw new RequestError(400, "invalid_session_id", `"${id.slice(0, 80)}" is not a session id`);
    const releaseLock = await runtime.sessionLocks.acquire(client.tenant, sessionId, request.signal);
    try {
      if (!(await runtime.sessions.delete(client.tenant, sessionId))) {
        throw new RequestError(404, "session_not_found", `no session ${sessionId} (unknown, deleted or expired)`);
      }
    } finally {
      await releaseLock();
    }
    return new Response(null, { status: 204 });
  } catch (error) {
    return errorAnswer(error, log);
  }
}
