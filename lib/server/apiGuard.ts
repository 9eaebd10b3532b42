/**
 * The checks every API request passes first (GET /api/health alone skips them):
 * - tenant routes (chat, completions, images, sessions, models): who the client is (clientIdentity.ts: with API_KEYS
 *   a listed key, else the tenant header) and, for the routes that cost model or store work (chat, completions,
 *   uploads), the per-client rate limit;
 * - admin routes: ADMIN_API_KEY as a Bearer token, whether or not API_KEYS is set; refused (403) when none is set;
 * - metrics routes: METRICS_API_KEY when it is set, else what the tenant routes need.
 * Every check of a presented key runs under the failed-key throttle (failedKeys.ts, MAX_FAILED_KEYS_PER_MINUTE): an
 * address that presented too many wrong keys gets its keys refused unchecked for a while, whichever route they are for.
 * Refusals are thrown as RequestErrors: 400 for a bad tenant header, 401 (with WWW-Authenticate) for a missing or
 * wrong key, 403 for admin routes without an admin key configured, 429 with Retry-After for an empty bucket or too
 * many wrong keys.
 */

import type { Runtime } from "./runtime";
import { requestClientAddress } from "./clientAddress";
import { identifyClient, type ClientIdentity } from "./clientIdentity";
import { bearerToken, credentialsOf, type Credentials, type SecretRole } from "./credentials";
import { errorAnswer, RequestError } from "./requestError";

type GuardRuntime = Pick<Runtime, "config" | "failedKeys">;

export function admitClient(
  request: Request,
  runtime: GuardRuntime & Pick<Runtime, "rateLimiter">,
  options: { rateLimited: boolean },
): ClientIdentity {
  const identity = identifyTenant(request, runtime);
  if (options.rateLimited) {
    const decision = runtime.rateLimiter.take(identity.rateLimitKey, performance.now());
    if (!decision.allowed) {
      throw new RequestError(
        429,
        "rate_limited",
        `too many requests from this client; retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
  }
  return identity;
}

/** Admits a request to an admin route (see the module comment). */
export function admitAdmin(request: Request, runtime: GuardRuntime): void {
  const credentials = credentialsOf(runtime.config);
  if (!credentials.hasKey("admin"))
    throw new RequestError(403, "admin_disabled", "admin routes are off on this server; set ADMIN_API_KEY to use them");
  requireRoleKey(request, runtime, credentials, "admin");
}

/** Admits a request to /api/metrics or /api/metrics/summary (see the module comment). */
function admitMetricsReader(request: Request, runtime: GuardRuntime): void {
  const credentials = credentialsOf(runtime.config);
  if (credentials.hasKey("metrics")) requireRoleKey(request, runtime, credentials, "metrics");
  else identifyTenant(request, runtime);
}

/** The client of a tenant route (clientIdentity.ts); its key, when API_KEYS makes one count, checked under the throttle. */
function identifyTenant(request: Request, runtime: GuardRuntime): ClientIdentity {
  const credentials = credentialsOf(runtime.config);
  const identify = (): ClientIdentity => {
    const identified = identifyClient(request.headers, credentials);
    if (!identified.ok) throw new RequestError(identified.status, identified.code, identified.message);
    return identified.identity;
  };
  return credentials.keysRequired ? checkingKey(request, runtime, identify) : identify();
}

const ROLE_VARIABLE: Record<SecretRole, string> = { admin: "ADMIN_API_KEY", metrics: "METRICS_API_KEY" };

function requireRoleKey(request: Request, runtime: GuardRuntime, credentials: Credentials, role: SecretRole): void {
  const token = bearerToken(request.headers);
  if (token === null)
    throw new RequestError(
      401,
      "missing_api_key",
      `this route requires the ${ROLE_VARIABLE[role]} key: send Authorization: Bearer KEY`,
    );
  checkingKey(request, runtime, () => {
    if (!credentials.isKeyOf(role, token))
      throw new RequestError(401, "invalid_api_key", `the key is not this server's ${ROLE_VARIABLE[role]}`);
  });
}

/**
 * Runs `check`, a check of the request's key that throws `invalid_api_key` when the key is wrong, under the failed-key
 * throttle: refused unchecked (429) while the client's address may present no more keys, and a wrong key counted. A
 * request without a key has nothing to guess with; `check` answers it (missing_api_key) and it is not counted.
 */
function checkingKey<T>(request: Request, runtime: GuardRuntime, check: () => T): T {
  if (bearerToken(request.headers) === null) return check();
  const address = requestClientAddress(request.headers);
  const decision = runtime.failedKeys.admits(address, performance.now());
  if (!decision.allowed) {
    throw new RequestError(
      429,
      "too_many_failed_keys",
      `too many wrong API keys from this address; no key from it is checked for the next ${decision.retryAfterSeconds} s`,
      decision.retryAfterSeconds,
    );
  }
  try {
    return check();
  } catch (error) {
    if (error instanceof RequestError && error.code === "invalid_api_key")
      runtime.failedKeys.recordRefusal(address, performance.now());
    throw error;
  }
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
  runtime: GuardRuntime & Pick<Runtime, "rateLimiter" | "logger">,
  options: { rateLimited: boolean },
  handle: (client: ClientIdentity) => Promise<Response>,
): Promise<Response> {
  return admitted(runtime, () => admitClient(request, runtime, options), handle);
}

/** Runs `handle` for an admitted metrics reader (admitMetricsReader); a refusal is answered instead. */
export function withMetricsReader(
  request: Request,
  runtime: GuardRuntime & Pick<Runtime, "logger">,
  handle: () => Promise<Response>,
): Promise<Response> {
  return admitted(runtime, () => admitMetricsReader(request, runtime), handle);
}
