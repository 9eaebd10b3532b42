import type { UploadEntry } from "@/lib/client/stores/uploadStore";

/**
 * An upload still on its way (with the share sent) or refused (with the server's readable error). Stored images are
 * not repeated here: the gallery shows them.
 */
export function UploadCard({ entry }: { entry: Exclude<UploadEntry, { state: "stored" }> }) {
  if (entry.state === "uploading") {
    return (
      <li
        data-testid="upload-card"
        data-state="uploading"
        className="space-y-1 rounded-lg border border-slate-200 bg-white p-3"
      >
        <p className="truncate text-sm text-slate-700">Uploading {entry.fileName}…</p>
        <progress value={entry.progress} max={1} aria-label={`Uploading ${entry.fileName}`} className="h-1.5 w-full" />
      </li>
    );
  }
  return (
    <li
      data-testid="upload-card"
      data-state="refused"
      className="rounded-lg border border-red-300 bg-red-50 p-3"
      role="alert"
    >
      <p className="text-sm font-semibold text-red-800">{entry.fileName} was not accepted</p>
      <p data-testid="upload-error" className="mt-1 text-sm text-red-800">
        {entry.error.message}
      </p>
      <p className="mt-1 font-mono text-xs text-red-700">{entry.error.code}</p>
    </li>
  );
}
