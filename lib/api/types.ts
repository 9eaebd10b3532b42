/**
 * Wire types of vlcache's HTTP API, shared by the route handlers (server) and the browser client.
 *
 * The shapes follow the HTTP contract (README's "HTTP API"; POST /api/chat and its SSE events are fixed there);
 * this file adds the JSON shapes the contract leaves open: GET /api/health and GET /api/metrics/summary.
 * Types only: nothing here runs, so both sides can import it without pulling server code into the client bundle.
 */
import type { ImageId, SessionId } from "@/lib/ids";
import type { ExecutionProviderName } from "@/lib/executionProviders";

/** Every non-2xx JSON answer: `{error: {code, message}}`. 429 and 503 also send a `Retry-After` header (seconds). */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

// ── POST /api/chat ────────────────────────────────────────────────────────────────────────────────────────────────

export type CacheLevel = "l1" | "l2" | "l3";
export const CACHE_LEVELS: readonly CacheLevel[] = ["l1", "l2", "l3"];

/** Sampling parameters; every field optional, the bundle's generation_config supplies what is missing. */
export interface GenerationParams {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
}

/** Per-request cache switches; a level that is `false` is neither read nor written. Every level defaults to `true`. */
export type CacheSwitches = Partial<Record<CacheLevel, boolean>>;

export interface ChatRequest {
  /** Absent on the first question: the server creates a session and names it in the `meta` event. */
  sessionId?: SessionId;
  message: { text: string; imageIds?: ImageId[] };
  params?: GenerationParams;
  cache?: CacheSwitches;
  /**
   * Extension (optional, additive): when `true`, the server first removes the last user message and its answer from
   * `sessionId`'s history, then answers `message` in their place. The conversation then reads as if the previous
   * answer had never been given. Requires `sessionId`. The web UI's Regenerate sends `keepTurns` instead (the last
   * turn's index in the session, when the session recorded it: chatTranscript.ts `keptServerTurns`).
   */
  regenerate?: boolean;
  /**
   * Extension used by the web UI's Edit on any question (optional, additive): answer `message` as if `sessionId`
   * held only its first `keepTurns` turns. The turns from index `keepTurns` on are replaced by this one when its answer
   * is saved (nothing changes if the request is refused). Requires `sessionId`; not with `regenerate`. An integer from
   * 0 to the session's number of turns (that number keeps them all), else `400 turn_out_of_range` /
   * `400 invalid_request`.
   */
  keepTurns?: number;
}

/** Where an image's vision features came from for this request. */
export type FeatureSource = "precomputed" | "l1" | "computed";
export type ResponseCacheResult = "hit" | "miss" | "bypass";
/** Which L2 tier served a reused prefix: the replica's own memory, or KV blocks read from the shared store. */
export type PrefixTier = "memory" | "store";

/** First SSE event of every successful request: what each cache level contributed. */
export interface ChatMetaEvent {
  sessionId: SessionId;
  /**
   * Additive field: this turn's 0-based index in the session's history, the `keepTurns` that replaces it. Optional for
   * the browser's transcripts saved before it was sent; this server always sends it.
   */
  turn?: number;
  cache: {
    features: { imageId: ImageId; source: FeatureSource }[];
    /**
     * Prompt tokens whose KV came from L2 (`reused`) out of the prompt's length (`total`); `tier`, present exactly when
     * `reused` > 0, says which L2 tier served them.
     */
    prefix: { reused: number; total: number; tier?: PrefixTier };
    response: ResponseCacheResult;
  };
}

/** One piece of the answer's text, in order; concatenating every `token.text` gives the whole answer. */
export interface ChatTokenEvent {
  text: string;
}

/** Last SSE event of a successful request. */
export interface ChatDoneEvent {
  usage: { promptTokens: number; completionTokens: number };
  timings: { ttftMs: number; totalMs: number; tokensPerSecond: number };
}

/** Sent instead of `done` when generation fails after the stream has started; the stream then ends. */
export interface ChatErrorEvent {
  code: string;
  message: string;
}

/**
 * The SSE stream of POST /api/chat, decoded: `meta`, then any number of `token`, then exactly one `done` or `error`.
 */
export type ChatStreamEvent =
  | { type: "meta"; data: ChatMetaEvent }
  | { type: "token"; data: ChatTokenEvent }
  | { type: "done"; data: ChatDoneEvent }
  | { type: "error"; data: ChatErrorEvent };

export type ChatStreamEventType = ChatStreamEvent["type"];

// ── POST /api/images, GET /api/images/:id ─────────────────────────────────────────────────────────────────────────

/** `encoding` while the vision encoder precomputes the image's features, `ready` once they are in L1. */
export type ImageStatus = "encoding" | "ready";

/**
 * POST /api/images (multipart field `image`). `deduplicated`: the same canonical pixels were stored before. `bytes`:
 * the size of the stored file (the upload as sent, the first one for these pixels).
 */
export interface ImageUploadResponse {
  imageId: ImageId;
  width: number;
  height: number;
  bytes: number;
  deduplicated: boolean;
  status: ImageStatus;
}

/** GET /api/images/:id: the stored image's metadata (the canonical PNG itself with `?raw=1`). */
export interface ImageInfoResponse {
  imageId: ImageId;
  width: number;
  height: number;
  bytes: number;
  status: ImageStatus;
  /**
   * Once `ready`: how long this server took to encode the image after its upload (absent when it did not encode it).
   */
  encodingMs?: number;
}

// ── GET /api/health ───────────────────────────────────────────────────────────────────────────────────────────────

/** onnxruntime execution provider the model's sessions run on (one of lib/executionProviders.ts). */
export type ExecutionProvider = ExecutionProviderName;

/** Where cache entries live: a Redis the operator runs, a redis-server vlcache started itself, or process memory. */
export type StoreMode = "external" | "embedded" | "memory";

/**
 * GET /api/health, always HTTP 200 while the process serves requests.
 * `status` is `ok` when the model is loaded and the store is healthy, `starting` while the model loads, and
 * `degraded` when the store is unreachable (requests still work, without shared caching) or the model failed to load
 * (`modelError` says why; generating requests answer 503 until the bundle is fixed and the app restarted).
 */
export interface HealthResponse {
  status: "ok" | "starting" | "degraded";
  /** Why no model is served (additive field): present only when loading the bundle failed. */
  modelError?: { code: string; message: string };
  /** Epoch milliseconds when this server process started; a different value than before means it restarted. */
  startedAt: number;
  /** The loaded bundle, or null while no model is loaded yet. */
  model: {
    name: string;
    /** True for bundles converted with `--random`: answers are gibberish by design. */
    isRandomTestModel: boolean;
    executionProvider: ExecutionProvider;
  } | null;
  redis: { mode: StoreMode; healthy: boolean };
}

// ── GET /api/metrics/summary ──────────────────────────────────────────────────────────────────────────────────────

/** Counters of one cache level since the process started (counters only grow until a restart). */
export interface CacheLevelSummary {
  hits: number;
  misses: number;
  /** Bytes the level holds now. */
  bytes: number;
  /** The level's byte budget, or null when it has none (e.g. an external Redis managing its own memory). */
  capacityBytes: number | null;
  evictions: number;
}

/**
 * Time-to-first-token histogram with per-bucket (not cumulative) counts.
 * `hit[i]` / `miss[i]` count requests with `upperBoundsMs[i-1] < ttft ≤ upperBoundsMs[i]`; both arrays have
 * `upperBoundsMs.length + 1` entries, the last one counting requests slower than the last bound.
 * A request is a `hit` when any cache level saved work for it (L3 answer, L2 prefix reuse > 0, or every image's
 * features precomputed or from L1), a `miss` otherwise.
 */
export interface TtftHistogram {
  upperBoundsMs: number[];
  hit: number[];
  miss: number[];
}

export interface MetricsSummary {
  /** Epoch milliseconds when the summary was taken. */
  timestamp: number;
  /** Epoch milliseconds when the server process started; counters restart from zero when it changes. */
  startedAt: number;
  levels: Record<CacheLevel, CacheLevelSummary>;
  /** Times the vision encoder actually ran (`vlcache_vision_encoder_runs_total`). */
  visionEncoderRuns: number;
  /** Images whose features came from L1 or a precompute instead of a run of the encoder for the request. */
  visionEncoderRunsSaved: number;
  /** `vlcache_prefix_tokens_reused_total`. */
  prefixTokensReused: number;
  ttft: TtftHistogram;
  /** Requests waiting for the engine now (`vlcache_queue_length`). */
  queueLength: number;
}
