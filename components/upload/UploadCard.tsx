"use client";

import { formatBytes } from "@/lib/client/format";
import type { UploadEntry } from "./uploadStore";

/** One upload: its stored thumbnail, size and id (marked new or duplicate), a progress line, or the refusal. */
export function UploadCard({ entry }: { entry: UploadEntry }) {
  if (entry.state === "uploading") {
    return (
      <li data-testid="upload-card" data-state="uploading" className="flex items-center gap-4 rounded-lg border border-slate-200 bg-white p-4">
        <div className="h-20 w-20 animate-pulse rounded bg-slate-200" />
        <p className="text-sm text-slate-600">Uploading {entry.fileName}…</p>
      </li>
    );
  }
  if (entry.state === "refused") {
    return (
      <li data-testid="upload-card" data-state="refused" className="rounded-lg border border-red-300 bg-red-50 p-4" role="alert">
        <p className="text-sm font-semibold text-red-800">{entry.fileName} was not accepted</p>
        <p data-testid="upload-error" className="mt-1 text-sm text-red-800">
          {entry.error.message}
        </p>
        <p className="mt-1 font-mono text-xs text-red-700">{entry.error.code}</p>
      </li>
    );
  }
  const { answer } = entry;
  return (
    <li data-testid="upload-card" data-state="stored" className="flex gap-4 rounded-lg border border-slate-200 bg-white p-4">
      {/* The canonical PNG as stored: what the model will see (orientation applied, alpha flattened). */}
      <img
        data-testid="upload-thumbnail"
        src={`/api/images/${answer.imageId}?raw=1`}
        alt={`stored image ${entry.fileName}`}
        className="h-20 w-20 shrink-0 rounded border border-slate-200 bg-slate-100 object-contain"
      />
      <div className="min-w-0 space-y-1">
        <div className="flex items-center gap-2">
          <p className="truncate text-sm font-medium">{entry.fileName}</p>
          <span
            data-testid="upload-badge"
            className={
              answer.deduplicated
                ? "rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800"
                : "rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-medium text-emerald-800"
            }
          >
            {answer.deduplicated ? "duplicate" : "new"}
          </span>
        </div>
        <p data-testid="upload-size" className="text-sm text-slate-600">
          {answer.width} × {answer.height} px · {formatBytes(answer.bytes)} canonical PNG
        </p>
        <p className="text-xs text-slate-500">
          id <code data-testid="upload-id" className="break-all font-mono text-slate-800">{answer.imageId}</code>
        </p>
        {answer.deduplicated && (
          <p className="text-xs text-amber-800">Same pixels as an image already stored: nothing new was kept.</p>
        )}
      </div>
    </li>
  );
}
