/**
 * What the page tells the user about the server whenever its health is not `ok`: one problem at a time, in plain
 * words (`headline`), with the server's own wording kept for a folded "details" section, and whether questions can
 * be sent at all (`blocksSending`). Pure: derived from the health connection only.
 */
import type { Connection } from "./healthConnection";

export type ServerProblemKind = "down" | "starting" | "no-model" | "store-down" | "degraded";

export interface ServerProblem {
  kind: ServerProblemKind;
  headline: string;
  /** The technical reason as reported (error text, loader message), for a folded details section; null if none. */
  detail: string | null;
  /** Why Send is disabled while this lasts; null when questions still work. */
  blocksSending: string | null;
}

export function serverProblem(connection: Connection): ServerProblem | null {
  if (connection.state === "connecting") return null;
  if (connection.state === "down") {
    return {
      kind: "down",
      headline: connection.answered
        ? "The server answered its health check with an error."
        : "The server is not responding.",
      detail: connection.reason,
      blocksSending: connection.answered ? "The server reports a problem." : "The server is not responding.",
    };
  }
  const { health } = connection;
  if (health.status === "ok") return null;
  if (health.model === null && health.modelError !== undefined) {
    return {
      kind: "no-model",
      headline:
        "No model is loaded, so questions cannot be answered. The operator has to fix the model files and restart the server.",
      detail: `${health.modelError.code}: ${health.modelError.message}`,
      blocksSending: "No model is loaded on the server.",
    };
  }
  if (health.model === null) {
    return {
      kind: "starting",
      headline: "The model is still loading; questions can be sent once it is ready.",
      detail: null,
      blocksSending: "The model is still loading.",
    };
  }
  if (!health.redis.healthy) {
    return {
      kind: "store-down",
      headline: "The cache store is unreachable: answers still work, without shared caching.",
      detail: `store mode: ${health.redis.mode}`,
      blocksSending: null,
    };
  }
  return {
    kind: "degraded",
    headline: "The server reports a problem; answers may fail.",
    detail: `status: ${health.status}`,
    blocksSending: null,
  };
}
