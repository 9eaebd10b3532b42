import type { CacheLevel } from "@/lib/api/types";

/** One color and name per cache level, shared by every chart so a level looks the same everywhere. */
export const LEVEL_STYLE: Record<CacheLevel, { name: string; color: string }> = {
  l1: { name: "L1 vision features", color: "#2563eb" },
  l2: { name: "L2 prefix KV", color: "#059669" },
  l3: { name: "L3 responses", color: "#d97706" },
};
