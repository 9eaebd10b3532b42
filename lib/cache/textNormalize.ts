/**
 * Text normalisation for L3 keys: two messages that differ only in how they were typed (compatibility characters,
 * runs of spaces or newlines, leading and trailing blanks, and — when enabled — letter case) get one key.
 *
 * Steps, in order: Unicode NFKC (full-width letters, ligatures, superscripts → plain forms); optional case folding;
 * every run of Unicode whitespace (spaces, tabs, newlines, NBSP, U+2028 …) → one ASCII space; trim.
 * JavaScript has no full case folding, so it is approximated by lower-, upper- then lower-casing: every case variant of
 * a text reaches the same upper-case form ("ẞ", "ß" → "SS"; "Σ", "σ", "ς" → "Σ") before the last step, so variants
 * that differ only in case fold to one string. NFKC runs again afterwards because case mapping can leave text that is
 * no longer in normal form.
 *
 * Invariant: idempotent — normalizeText(normalizeText(x, o), o) === normalizeText(x, o).
 */
export interface TextNormalizeOptions {
  readonly caseFold: boolean;
}

const WHITESPACE_RUN = /\s+/gu;

export function normalizeText(text: string, options: TextNormalizeOptions): string {
  let normal = text.normalize("NFKC");
  if (options.caseFold) normal = normal.toLowerCase().toUpperCase().toLowerCase().normalize("NFKC");
  return normal.replace(WHITESPACE_RUN, " ").trim();
}
