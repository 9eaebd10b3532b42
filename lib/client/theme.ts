/**
 * The colour scheme: the user's choice ("system" follows prefers-color-scheme), kept in localStorage, applied as the
 * `dark` class on <html> (app/globals.css turns the palette around under it). The same rule runs twice: as an inline
 * script before the first paint (so a dark page never flashes light), and in the Theme picker when the choice or the
 * system scheme changes.
 */

export const THEME_PREFERENCES = ["system", "light", "dark"] as const;
export type ThemePreference = (typeof THEME_PREFERENCES)[number];

export const THEME_STORAGE_KEY = "vlcache.theme.v1";
export const DARK_CLASS = "dark";

/** A stored value read back: anything unknown (missing, hand-edited) means "system". */
export function parseThemePreference(stored: unknown): ThemePreference {
  return THEME_PREFERENCES.find((preference) => preference === stored) ?? "system";
}

export function isDark(preference: ThemePreference, systemPrefersDark: boolean): boolean {
  return preference === "dark" || (preference === "system" && systemPrefersDark);
}

/**
 * The inline <head> script: applies the stored choice before the page paints. Self-contained (it runs before any
 * bundle), so it restates parseThemePreference and isDark in a dozen characters each; theme.test.ts runs it against
 * them.
 */
export const THEME_BOOT_SCRIPT = `(() => {
  let p = "system";
  try { p = localStorage.getItem(${JSON.stringify(THEME_STORAGE_KEY)}) || "system"; } catch {}
  const dark = p === "dark" || (p !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle(${JSON.stringify(DARK_CLASS)}, dark);
})();`;
