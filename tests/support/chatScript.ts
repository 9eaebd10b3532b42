/**
 * Multi-turn chats for cache tests: a script of user turns is played against a pipeline, each answer's text fed back
 * as the assistant turn before the next question — the way a chat client builds its history. Two pipelines that
 * answer identically therefore see identical histories, so their per-turn tokens can be compared one to one.
 *
 *   const turns = await playChat(pipeline, [[{ image: id }, "What is this?"], ["And the top?"]], { maxNewTokens: 8 });
 *   turns[1].tokenIds, turns[1].meta?.cache.prefix.reused
 */
import type { ImageId, TenantId } from "@/lib/ids";
import type { DoneEvent, GenerationEvent, MetaEvent } from "@/lib/inference/events";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import type { GenerationRequestInput } from "@/lib/inference/request";

/** One part of a user turn: text, an image named by its stored id, or an image sent as file bytes. */
export type ScriptPart = string | { readonly image: ImageId } | { readonly bytes: Uint8Array };
export type ScriptTurn = readonly ScriptPart[];

export interface PlayOptions {
  readonly maxNewTokens?: number;
  readonly cache?: { l1?: boolean; l2?: boolean; l3?: boolean };
  readonly tenant?: TenantId;
  readonly temperature?: number;
  readonly seed?: number;
}

export interface PlayedTurn {
  readonly tokenIds: readonly number[];
  readonly text: string;
  readonly meta: MetaEvent | undefined;
  readonly done: DoneEvent;
}

type Messages = GenerationRequestInput["messages"];

export function userMessage(turn: ScriptTurn): Messages[number] {
  return {
    role: "user",
    content: turn.map((part) =>
      typeof part === "string"
        ? { type: "text" as const, text: part }
        : "image" in part
          ? { type: "image" as const, imageId: part.image }
          : { type: "image" as const, bytes: part.bytes },
    ),
  };
}

/** Runs one request to its end. */
export async function ask(
  pipeline: InferencePipeline,
  messages: Messages,
  options: PlayOptions = {},
): Promise<PlayedTurn> {
  const { maxNewTokens = 8, ...rest } = options;
  const events: GenerationEvent[] = [];
  for await (const event of pipeline.generate({ messages, maxNewTokens, ...rest })) events.push(event);
  const done = events.at(-1);
  if (done?.type !== "done") throw new Error(`the stream ended with ${done?.type ?? "nothing"}, not done`);
  return {
    tokenIds: done.tokenIds,
    text: events.map((event) => (event.type === "token" ? event.text : "")).join(""),
    meta: events.find((event): event is MetaEvent => event.type === "meta"),
    done,
  };
}

/** Plays every turn in order on one conversation. */
export async function playChat(
  pipeline: InferencePipeline,
  turns: readonly ScriptTurn[],
  options: PlayOptions = {},
): Promise<PlayedTurn[]> {
  const history: Messages = [];
  const played: PlayedTurn[] = [];
  for (const turn of turns) {
    history.push(userMessage(turn));
    const answer = await ask(pipeline, history, options);
    history.push({ role: "assistant", content: answer.text });
    played.push(answer);
  }
  return played;
}
