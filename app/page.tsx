import { UploadPanel } from "@/components/upload/UploadPanel";
import { loadConfig } from "@/lib/config";

// Rendered per request so the limits shown are the running server's configuration, not the build machine's.
export const dynamic = "force-dynamic";

export default function HomePage() {
  const { maxUploadBytes, maxImagePixels } = loadConfig();
  return (
    <main className="mx-auto max-w-3xl space-y-6 p-6">
      <header className="space-y-1">
        <h1 className="text-2xl font-semibold">vlcache</h1>
        <p className="text-sm text-slate-600">
          Upload an image. It is decoded, oriented, flattened to 8-bit sRGB and stored under the SHA-256 of its pixels, so
          the same picture in any encoding gets the same id.
        </p>
      </header>
      <UploadPanel limits={{ maxUploadBytes, maxImagePixels }} />
    </main>
  );
}
