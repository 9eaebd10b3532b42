"use client";

import { useEffect, useRef } from "react";
import { HistoryPanel } from "./HistoryPanel";

/** The history below the desktop breakpoint: a modal panel from the left (Esc, the backdrop or Close shut it). */
export function HistoryDrawer({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);

  return (
    <dialog
      ref={dialog}
      aria-label="Chat history"
      onClose={onClose}
      onClick={(event) => {
        // A click on the dialog element itself (not its contents) landed on the backdrop.
        if (event.target === event.currentTarget) onClose();
      }}
      className="m-0 h-full max-h-none w-72 max-w-[85vw] bg-white p-0 text-slate-900 backdrop:bg-slate-950/50 lg:hidden"
    >
      {open && (
        <div className="flex h-full flex-col">
          <HistoryPanel onClose={onClose} />
        </div>
      )}
    </dialog>
  );
}
