/**
 * The checks every API request passes first (GET /api/health alone skips them):
 * - tenant routes (chat, completions, images, sessions, models): who the client is (clientIdentity.ts: with API_KEYS
 *   a listed key, else the tenant header) and, for the routes that cost model or store work (chat, completions,
 *   uploads), the per-client rate limit;
 * - admin routes: ADMIN_API_KEY as a Bearer token, whether or not API_KEYS is set; refused (403) when none is set;
 * - metrics routes: METRICS_API_KEY when it is set, else what the tenant routes need.
 * Refusals are thrown as RequestErrors: 400 for a bad tenant header, 401 (with WWW-Authenticate) for a missing or
 * wrong key, 403 for admin routes without an admin key configured, 429 with Retry-After for an empty bucket.
 */

import type { Runtime } from "./runtime";
import { identifyClient, type ClientIdentity } from "./clientIdentity";
import { bearerToken, credentialsOf, type Credentials, type SecretRole } from "./credentials";
import { errorAnswer, RequestError } from "./requestError";

export function admitClient(
  request: Request,
  runtime: Pick<Runtime, "config" | "rateLimiter">,
  options: { rateLimited: boolean },
): ClientIdentity {
  const identified = identifyClient(request.headers, credentialsOf(runtime.config));
  if (!identified.ok) throw new RequestError(identified.status, identified.code, identified.message);
  if (options.rateLimited) {
    const decision = runtime.rateLimiter.take(identified.identity.rateLimitKey, performance.now());
    if (!decision.allowed) {
      throw new RequestError(
        429,
        "rate_limited",
        `too many requests from this client; retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
  }
  return identified.identity;
}

/** Admits a request to an admin route (see the module comment). */
export function admitAdmin(request: Request, runtime: Pick<Runtime, "config">): void {
  const credentials = credentialsOf(runtime.config);
  if (!credentials.hasKey("admin"))
    throw new RequestError(403, "admin_disabled", "admin routes are off on this server; set ADMIN_API_KEY to use them");
  requireRoleKey(request, credentials, "admin");
}

/** Admits a request to /api/metrics or /api/metrics/summary (see the module comment). */
export function admitMetricsReader(request: Request, runtime: Pick<Runtime, "config">): void {
  const credentials = credentialsOf(runtime.config);
  if (credentials.hasKey("metrics")) {
    requireRoleKey(request, credentials, "metrics");
    return;
  }
  const identified = identifyClient(request.headers, credentials);
  if (!identified.ok) throw new RequestError(identified.status, identified.code, identified.message);
}

const ROLE_VARIABLE: Record<SecretRole, string> = { admin: "ADMIN_API_KEY", metrics: "METRICS_API_KEY" };

function requireRoleKey(request: Request, credentials: Credentials, role: SecretRole): void {
  const token = bearerToken(request.headers);
  if (token === null)
    throw new RequestError(
      401,
      "missing_api_key",
      `this route requires the ${ROLE_VARIABLE[role]} key: send Authorization: Bearer KEY`,
    );
  if (!credentials.isKeyOf(role, token))
    throw new RequestError(401, "invalid_api_key", `the key is not this server's ${ROLE_VARIABLE[role]}`);
}

/** Runs `handle` with what `admit` returned; a refusal thrown by `admit` is answered as `{error}` instead. */
export async function admitted<T>(
  runtime: Pick<Runtime, "logger">,
  admit: () => T,
  handle: (admission: T) => Promise<Response>,
): Promise<Response> {
  let admission: T;
  try {
    admission = admit();
  } catch (error) {
    return errorAnswer(error, runtime.logger);
  }
  return handle(admission);
}

/**
 * Runs `handle` for an admitted client (admitClient); a refusal (bad tenant or key, rate limit) is answered instead.
 */
export function withClient(
  request: Request,
  runtime: Pick<Runtime, "config" | "rateLimiter" | "logger">,
  options: { rateLimited: boolean },
  handle: (client: ClientIdentity) => Promise<Response>,
): Promise<Response> {
  return admitted(runtime, () => admitClient(request, runtime, options), handle);
}
