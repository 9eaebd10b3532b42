/**
 * The settings panel's values and how they become the `params` and `cache` of a chat request.
 *
 * Invariant: a GenerationSettings value always holds numbers inside SETTING_LIMITS (inputs go through
 * parseSettingInput), so a request built from it never fails validation on the server for range reasons.
 */
import { CACHE_LEVELS, type CacheLevel, type ChatRequest } from "@/lib/api/types";

export interface GenerationSettings {
  maxNewTokens: number;
  /** 0 means greedy decoding: deterministic, so answers can be served from the L3 response cache. */
  temperature: number;
  topP: number;
  /** null: the server picks a seed per request. */
  seed: number | null;
  cache: Record<CacheLevel, boolean>;
}

export type NumericSetting = "maxNewTokens" | "temperature" | "topP" | "seed";

export interface SettingLimit {
  min: number;
  max: number;
  step: number;
  integer: boolean;
}

export const SETTING_LIMITS: Record<NumericSetting, SettingLimit> = {
  maxNewTokens: { min: 1, max: 4096, step: 1, integer: true },
  temperature: { min: 0, max: 2, step: 0.05, integer: false },
  topP: { min: 0.01, max: 1, step: 0.01, integer: false },
  seed: { min: 0, max: 2 ** 31 - 1, step: 1, integer: true },
};

export const DEFAULT_GENERATION_SETTINGS: GenerationSettings = {
  maxNewTokens: 256,
  temperature: 0,
  topP: 1,
  seed: null,
  cache: { l1: true, l2: true, l3: true },
};

export type SettingInput = { ok: true; value: number | null } | { ok: false; message: string };

/**
 * Reads what the user typed into a numeric field. Out-of-range numbers are clamped (the field then shows the clamped
 * value); text that is not a number is refused with a message. An empty seed means "no seed".
 */
export function parseSettingInput(setting: NumericSetting, raw: string): SettingInput {
  const text = raw.trim();
  if (text === "" && setting === "seed") return { ok: true, value: null };
  const limit = SETTING_LIMITS[setting];
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) return { ok: false, message: "Enter a number." };
  if (limit.integer && !Number.isInteger(value)) return { ok: false, message: "Enter a whole number." };
  return { ok: true, value: Math.min(limit.max, Math.max(limit.min, value)) };
}

/** The parts of a chat request that come from the settings panel. */
export function requestOptions(settings: GenerationSettings): Required<Pick<ChatRequest, "params" | "cache">> {
  return {
    params: {
      maxNewTokens: settings.maxNewTokens,
      temperature: settings.temperature,
      topP: settings.topP,
      ...(settings.seed === null ? {} : { seed: settings.seed }),
    },
    cache: Object.fromEntries(CACHE_LEVELS.map((level) => [level, settings.cache[level]])),
  };
}

/** The temperature Regenerate samples at when the settings say greedy (a greedy answer would come out the same). */
export const REGENERATE_TEMPERATURE = 0.7;

/**
 * A request's options for Regenerate: a fresh sample rather than the same answer again. The response cache (L3) is
 * skipped, greedy decoding becomes sampling at REGENERATE_TEMPERATURE, and the seed is `seed` (a new one per press),
 * whatever seed the settings fix. L1 and L2 stay as set: they never change an answer, only its cost.
 */
export function regenerateOptions(
  settings: GenerationSettings,
  seed: number,
): Required<Pick<ChatRequest, "params" | "cache">> {
  const { params, cache } = requestOptions(settings);
  return {
    params: { ...params, temperature: settings.temperature > 0 ? settings.temperature : REGENERATE_TEMPERATURE, seed },
    cache: { ...cache, l3: false },
  };
}

/**
 * Settings read back from storage (localStorage survives upgrades and hand edits): every field that is missing or
 * invalid takes its default, every number is brought inside its limits.
 */
export function sanitizeSettings(stored: unknown): GenerationSettings {
  const record = typeof stored === "object" && stored !== null ? (stored as Record<string, unknown>) : {};
  const numeric = <K extends NumericSetting>(name: K): GenerationSettings[K] => {
    const value = record[name];
    if (name === "seed" && value === null) return null as GenerationSettings[K];
    if (typeof value !== "number") return DEFAULT_GENERATION_SETTINGS[name];
    const parsed = parseSettingInput(name, String(value));
    return (parsed.ok ? parsed.value : DEFAULT_GENERATION_SETTINGS[name]) as GenerationSettings[K];
  };
  const cache =
    typeof record.cache === "object" && record.cache !== null ? (record.cache as Record<string, unknown>) : {};
  return {
    maxNewTokens: numeric("maxNewTokens"),
    temperature: numeric("temperature"),
    topP: numeric("topP"),
    seed: numeric("seed"),
    cache: Object.fromEntries(
      CACHE_LEVELS.map((level) => [
        level,
        typeof cache[level] === "boolean" ? cache[level] : DEFAULT_GENERATION_SETTINGS.cache[level],
      ]),
    ) as Record<CacheLevel, boolean>,
  };
}
