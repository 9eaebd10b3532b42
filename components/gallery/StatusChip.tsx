import { statusChip, type ChipTone, type GalleryImage } from "@/lib/client/galleryImages";

const TONE_CLASS: Record<ChipTone, string> = {
  busy: "bg-sky-100 text-sky-800",
  ready: "bg-emerald-100 text-emerald-800",
  cached: "bg-violet-100 text-violet-800",
  idle: "bg-slate-100 text-slate-700",
};

/** Where the image's vision features stand, as the server reports: encoding, ready after N ms, cached, not encoded. */
export function StatusChip({ image }: { image: GalleryImage }) {
  const chip = statusChip(image);
  return (
    <span
      data-testid="image-status-chip"
      data-tone={chip.tone}
      title={chip.title}
      className={`rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ${TONE_CLASS[chip.tone]}`}
    >
      {chip.label}
    </span>
  );
}
