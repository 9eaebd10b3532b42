import { createServer, maxHeaderSize, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import next from "next";
import { ConfigError, loadConfig } from "@/lib/config";
import { createLogger } from "@/lib/log";
import { CLIENT_ADDRESS_HEADER, TrustedProxies } from "@/lib/server/clientAddress";
import { contentSecurityPolicy, newNonce, rawErrorResponse, SECURITY_HEADERS } from "@/lib/server/securityHeaders";

/**
 * The app's HTTP server: Node's http server around Next.js's request handler (`npm start`, `npm run demo`, the tests;
 * `--dev` for `npm run dev`). It exists for what only the server sees, before Next.js does:
 * - the connection's address: the client address is resolved from the socket and TRUSTED_PROXIES
 *   (lib/server/clientAddress.ts) and written into CLIENT_ADDRESS_HEADER, replacing anything the client sent there;
 *   the rate limit keys on it (lib/server/clientIdentity.ts);
 * - the security headers and the per-request CSP nonce (lib/server/securityHeaders.ts), on every answer;
 * - requests Node's parser refuses (headers over the size limit: 431) answered as JSON instead of an empty body.
 * HOST and PORT say where it listens (127.0.0.1:3000 by default).
 */
const dev = process.argv.includes("--dev");

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`vlcache: ${error.message}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel).child({ module: "http" });
const proxies = new TrustedProxies(config.trustedProxies);

const app = next({ dev, dir: process.cwd(), hostname: config.host, port: config.port });
const handle = app.getRequestHandler();
await app.prepare();

function serve(request: IncomingMessage, response: ServerResponse): void {
  const forwardedFor = request.headers["x-forwarded-for"];
  request.headers[CLIENT_ADDRESS_HEADER] = proxies.clientAddress(
    request.socket.remoteAddress,
    Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor,
  );
  const policy = contentSecurityPolicy({ nonce: newNonce(), dev });
  // Next.js takes the nonce for the scripts it renders from the request's CSP header.
  request.headers["content-security-policy"] = policy;
  response.setHeader("content-security-policy", policy);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
  handle(request, response).catch((error: unknown) => {
    logger.error({ err: error, url: request.url }, "request handler failed");
    if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        error: { code: "internal_error", message: "the server failed to handle this request; see its log" },
      }),
    );
  });
}

/** Node's parser refused the request before `serve` saw it; answer it as JSON when the connection still can be. */
function refuseMalformed(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const answer =
    error.code === "HPE_HEADER_OVERFLOW"
      ? rawErrorResponse(431, "headers_too_large", `the request's headers exceed ${maxHeaderSize} bytes`)
      : rawErrorResponse(400, "malformed_request", "the request is not valid HTTP/1.1");
  socket.end(answer);
}

const server = createServer(serve);
// Longer than the usual proxy idle timeout (60 s), so a proxy never sends on a connection this server just closed; the
// same race hits any client while start-up work (loading the model) holds the event loop past Node's 5 s default.
server.keepAliveTimeout = 65_000;
server.on("clientError", refuseMalformed);
server.listen(config.port, config.host, () => {
  logger.info(
    { host: config.host, port: config.port, dev, trustedProxies: config.trustedProxies },
    `serving http://${config.host}:${config.port}`,
  );
});
