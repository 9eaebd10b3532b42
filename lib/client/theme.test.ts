import { describe, expect, it } from "vitest";
import {
  isDark,
  parseThemePreference,
  THEME_BOOT_SCRIPT,
  THEME_PREFERENCES,
  THEME_STORAGE_KEY,
  type ThemePreference,
} from "./theme";

/** Runs the boot script against a stand-in of the three browser APIs it touches; returns whether it set `dark`. */
function runBootScript(stored: string | null, systemDark: boolean): boolean {
  let dark = false;
  const globals = {
    localStorage: { getItem: (key: string) => (key === THEME_STORAGE_KEY ? stored : null) },
    matchMedia: (query: string) => ({ matches: query === "(prefers-color-scheme: dark)" && systemDark }),
    document: {
      documentElement: { classList: { toggle: (name: string, on: boolean) => (dark = name === "dark" && on) } },
    },
  };
  new Function(...Object.keys(globals), THEME_BOOT_SCRIPT)(...Object.values(globals));
  return dark;
}

describe("theme", () => {
  it("reads a stored choice, and anything unknown as system", () => {
    expect(parseThemePreference("dark")).toBe("dark");
    expect(parseThemePreference("light")).toBe("light");
    expect(parseThemePreference("purple")).toBe("system");
    expect(parseThemePreference(null)).toBe("system");
  });

  it("is dark when chosen, or when following a dark system", () => {
    expect(isDark("dark", false)).toBe(true);
    expect(isDark("light", true)).toBe(false);
    expect(isDark("system", true)).toBe(true);
    expect(isDark("system", false)).toBe(false);
  });

  it("the boot script decides as isDark does, for every stored value and system scheme", () => {
    for (const stored of [...THEME_PREFERENCES, "bogus", null]) {
      for (const systemDark of [false, true]) {
        expect(runBootScript(stored, systemDark)).toBe(
          isDark(parseThemePreference(stored) as ThemePreference, systemDark),
        );
      }
    }
  });
});
