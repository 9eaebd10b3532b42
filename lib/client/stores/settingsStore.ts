/**
 * The settings panel's state, kept in localStorage so a reload keeps the user's choices. Hydration from storage is
 * explicit (`rehydrateSettings`, called once the page is mounted) so the server-rendered HTML and the first client
 * render agree on the defaults.
 */
import { createJSONStorage, persist } from "zustand/middleware";
import { createStore } from "zustand/vanilla";
import type { CacheLevel } from "@/lib/api/types";
import {
  DEFAULT_GENERATION_SETTINGS,
  sanitizeSettings,
  type GenerationSettings,
  type NumericSetting,
} from "../generationSettings";

export interface SettingsState {
  settings: GenerationSettings;
  setNumber<K extends NumericSetting>(name: K, value: GenerationSettings[K]): void;
  setCacheLevel(level: CacheLevel, enabled: boolean): void;
  reset(): void;
}

export const settingsStore = createStore<SettingsState>()(
  persist(
    (set) => ({
      settings: DEFAULT_GENERATION_SETTINGS,
      setNumber: (name, value) => set((state) => ({ settings: { ...state.settings, [name]: value } })),
      setCacheLevel: (level, enabled) =>
        set((state) => ({ settings: { ...state.settings, cache: { ...state.settings.cache, [level]: enabled } } })),
      reset: () => set({ settings: DEFAULT_GENERATION_SETTINGS }),
    }),
    {
      name: "vlcache.settings.v1",
      storage: createJSONStorage(() => localStorage),
      partialize: (state) => ({ settings: state.settings }),
      merge: (persisted, current) => ({
        ...current,
        settings: sanitizeSettings((persisted as { settings?: unknown } | undefined)?.settings),
      }),
      skipHydration: true,
    },
  ),
);

export function rehydrateSettings(): void {
  void settingsStore.persist.rehydrate();
}
