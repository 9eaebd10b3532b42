"use client";

import { useEffect, useState } from "react";

/** How long "Copied" shows after a copy. */
const COPIED_MS = 2_000;

/**
 * Copies `text()` to the clipboard and says so (or says that the browser refused). `what` completes the accessible
 * name ("Copy answer"), hidden on screen where the context shows it.
 */
export function CopyButton({ text, what, className }: { text: () => string; what: string; className: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), COPIED_MS);
    return () => clearTimeout(timer);
  }, [state]);

  return (
    <button
      type="button"
      onClick={() =>
        navigator.clipboard.writeText(text()).then(
          () => setState("copied"),
          () => setState("failed"),
        )
      }
      className={className}
    >
      <span aria-live="polite">{state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}</span>
      <span className="sr-only"> {what}</span>
    </button>
  );
}
