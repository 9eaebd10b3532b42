"use client";

import { useEffect, useState } from "react";
import {
  DARK_CLASS,
  isDark,
  parseThemePreference,
  THEME_PREFERENCES,
  THEME_STORAGE_KEY,
  type ThemePreference,
} from "@/lib/client/theme";

const LABEL: Record<ThemePreference, string> = { system: "System", light: "Light", dark: "Dark" };
const SYSTEM_DARK = "(prefers-color-scheme: dark)";

/** The colour scheme choice, kept in localStorage; "System" follows the operating system, live. */
export function ThemePicker() {
  const [preference, setPreference] = useState<ThemePreference>("system");

  useEffect(() => setPreference(parseThemePreference(localStorage.getItem(THEME_STORAGE_KEY))), []);

  useEffect(() => {
    const media = matchMedia(SYSTEM_DARK);
    const apply = () => document.documentElement.classList.toggle(DARK_CLASS, isDark(preference, media.matches));
    apply();
    media.addEventListener("change", apply);
    return () => media.removeEventListener("change", apply);
  }, [preference]);

  return (
    <select
      aria-label="Theme"
      title="Colour scheme"
      value={preference}
      onChange={(event) => {
        const next = parseThemePreference(event.target.value);
        localStorage.setItem(THEME_STORAGE_KEY, next);
        setPreference(next);
      }}
      className="rounded-md border border-slate-300 bg-white px-1.5 py-1 text-xs text-slate-700"
    >
      {THEME_PREFERENCES.map((option) => (
        <option key={option} value={option}>
          {LABEL[option]}
        </option>
      ))}
    </select>
  );
}
