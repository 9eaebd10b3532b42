"use client";

import { useEffect } from "react";
import { useStore } from "zustand";
import { CACHE_LEVELS, type CacheLevel } from "@/lib/api/types";
import { rehydrateSettings, settingsStore } from "@/lib/client/stores/settingsStore";
import { CacheSwitch } from "./CacheSwitch";
import { NumberSetting } from "./NumberSetting";

const CACHE_LABELS: Record<CacheLevel, { label: string; description: string }> = {
  l1: { label: "L1 vision features", description: "Reuse an image's vision-encoder output across questions" },
  l2: { label: "L2 prefix KV", description: "Reuse attention keys and values of a prompt prefix seen before" },
  l3: { label: "L3 responses", description: "Answer a repeated deterministic question from the response cache" },
};

/** Sampling parameters and a switch per cache level, folded away until needed; kept across reloads. */
export function SettingsPanel() {
  const settings = useStore(settingsStore, (state) => state.settings);
  const { setNumber, setCacheLevel, reset } = settingsStore.getState();

  useEffect(rehydrateSettings, []);

  return (
    <details className="group rounded-lg border border-slate-200 bg-white" data-testid="settings">
      <summary className="cursor-pointer list-none px-3 py-2 text-sm font-medium text-slate-700 select-none">
        <span className="inline-block transition-transform group-open:rotate-90" aria-hidden>
          ▸
        </span>{" "}
        Settings
        <span className="ml-2 text-xs font-normal text-slate-500">
          {settings.temperature === 0 ? "greedy" : `temperature ${settings.temperature}`} · max {settings.maxNewTokens}{" "}
          tokens
        </span>
      </summary>
      <div className="grid gap-4 border-t border-slate-200 p-3 sm:grid-cols-2">
        <div className="grid grid-cols-2 gap-3">
          <NumberSetting
            setting="maxNewTokens"
            label="Max new tokens"
            value={settings.maxNewTokens}
            onCommit={(v) => setNumber("maxNewTokens", v ?? 1)}
          />
          <NumberSetting
            setting="temperature"
            label="Temperature"
            value={settings.temperature}
            onCommit={(v) => setNumber("temperature", v ?? 0)}
          />
          <NumberSetting
            setting="topP"
            label="Top-p"
            value={settings.topP}
            onCommit={(v) => setNumber("topP", v ?? 1)}
          />
          <NumberSetting
            setting="seed"
            label="Seed"
            value={settings.seed}
            placeholder="random"
            onCommit={(v) => setNumber("seed", v)}
          />
        </div>
        <div className="space-y-1">
          <p className="text-xs font-medium text-slate-600">Caches</p>
          {CACHE_LEVELS.map((level) => (
            <CacheSwitch
              key={level}
              label={CACHE_LABELS[level].label}
              description={CACHE_LABELS[level].description}
              on={settings.cache[level]}
              onChange={(on) => setCacheLevel(level, on)}
            />
          ))}
          <button type="button" onClick={reset} className="mt-2 text-xs text-blue-700 underline">
            Reset to defaults
          </button>
        </div>
      </div>
    </details>
  );
}
