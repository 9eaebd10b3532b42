/**
 * Settings of the browser client that an operator may change at build time through NEXT_PUBLIC_* variables
 * (Next.js inlines them into the client bundle).
 */

export const DEFAULT_SEND_DEBOUNCE_MS = 300;
const MAX_SEND_DEBOUNCE_MS = 10_000;

/** Reads a debounce in milliseconds; anything but a whole number in [0, 10000] falls back to the default. */
export function parseSendDebounceMs(raw: string | undefined): number {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return DEFAULT_SEND_DEBOUNCE_MS;
  const value = Number(raw.trim());
  return value <= MAX_SEND_DEBOUNCE_MS ? value : DEFAULT_SEND_DEBOUNCE_MS;
}

/** Minimum time between two sends from the chat box: `NEXT_PUBLIC_VLCACHE_SEND_DEBOUNCE_MS`, default 300. */
export const SEND_DEBOUNCE_MS = parseSendDebounceMs(process.env.NEXT_PUBLIC_VLCACHE_SEND_DEBOUNCE_MS);
