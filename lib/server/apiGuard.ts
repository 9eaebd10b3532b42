import type { Runtime } from "./runtime";
import { identifyClient, type ClientIdentity } from "./clientIdentity";
import { errorAnswer, RequestError } from "./requestError";

/**
 * The checks every API request passes first: who the client is (tenant, see clientIdentity.ts) and, for the routes
 * that cost model or store work (chat, completions, uploads), the per-client rate limit. Throws the refusal as a
 * RequestError: 400/401 for a bad tenant or API key, 429 with Retry-After when the client's bucket is empty.
 */
export function admitClient(request: Request, runtime: Pick<Runtime, "config" | "rateLimiter">, options: { rateLimited: boolean }): ClientIdentity {
  const identified = identifyClient(request.headers, runtime.config.apiKeys);
  if (!identified.ok) throw new RequestError(identified.status, identified.code, identified.message);
  if (options.rateLimited) {
    const decision = runtime.rateLimiter.take(identified.identity.rateLimitKey, performance.now());
    if (!decision.allowed) {
      throw new RequestError(429, "rate_limited", `too many requests from this client; retry in ${decision.retryAfterSeconds} s`, decision.retryAfterSeconds);
    }
  }
  return identified.identity;
}

/** Runs `handle` for an admitted client; a refusal (bad tenant or key, rate limit) is answered as `{error}` instead. */
export async function withClient(
  request: Request,
  runtime: Pick<Runtime, "config" | "rateLimiter" | "logger">,
  options: { rateLimited: boolean },
  handle: (client: ClientIdentity) => Promise<Response>,
): Promise<Response> {
  let client: ClientIdentity;
  try {
    client = admitClient(request, runtime, options);
  } catch (error) {
    return errorAnswer(error, runtime.logger);
  }
  return handle(client);
}
