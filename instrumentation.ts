/**
 * Next.js start-up hook: opens the runtime (config, logger, store) when the server starts, so a bad configuration
 * stops the server at once and the store's one log line appears at start-up rather than on the first request.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getRuntime } = await import("@/lib/server/runtime");
  await getRuntime();
}
