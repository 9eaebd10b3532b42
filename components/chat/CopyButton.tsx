"use client";

import { useEffect, useState } from "react";

/** How long "Copied" shows after a copy. */
const COPIED_MS = 2_000;

/** Copies `text()` to the clipboard and says so (or says that the browser refused). */
export function CopyButton({ text, label, className }: { text: () => string; label: string; className: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), COPIED_MS);
    return () => clearTimeout(timer);
  }, [state]);

  return (
    <button
      type="button"
      aria-label={label}
      onClick={() =>
        navigator.clipboard.writeText(text()).then(
          () => setState("copied"),
          () => setState("failed"),
        )
      }
      className={className}
    >
      <span aria-live="polite">{state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}</span>
    </button>
  );
}
