/**
 * What kind of file an upload is, from its first bytes (magic numbers), before any decoder sees it.
 *
 * Why sniff instead of trusting sharp alone: sharp would happily rasterise SVG (and, in other builds, PDF), which the
 * upload path refuses (415), and a client's declared Content-Type cannot be trusted. Three answers:
 * - `supported`: a raster format the canonicaliser decodes (JPEG, PNG, GIF, WebP, TIFF, AVIF);
 * - `unsupported`: a recognised format vlcache does not accept (SVG, PDF, BMP, HEIC, …) → 415;
 * - `unknown`: not recognisably an image at all → 422 "not an image".
 */
export type SupportedImageFormat = "jpeg" | "png" | "gif" | "webp" | "tiff" | "avif";

export type SniffedFormat =
  { kind: "supported"; format: SupportedImageFormat } | { kind: "unsupported"; label: string } | { kind: "unknown" };

/** Enough bytes for every signature below, including an ISO-BMFF `ftyp` box with its brand list. */
export const SNIFF_BYTES = 512;

const AVIF_BRANDS = new Set(["avif", "avis"]);
const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"]);

function startsWith(head: Uint8Array, signature: ArrayLike<number>, offset = 0): boolean {
  if (head.length < offset + signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (head[offset + i] !== signature[i]) return false;
  return true;
}

const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));

export function sniffImageFormat(head: Uint8Array): SniffedFormat {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: "supported", format: "jpeg" };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: "supported", format: "png" };
  if (startsWith(head, ascii("GIF87a")) || startsWith(head, ascii("GIF89a")))
    return { kind: "supported", format: "gif" };
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8))
    return { kind: "supported", format: "webp" };
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { kind: "supported", format: "tiff" };
  }
  if (startsWith(head, ascii("ftyp"), 4)) return sniffIsoMedia(head);

  if (startsWith(head, ascii("%PDF-"))) return { kind: "unsupported", label: "PDF" };
  if (startsWith(head, ascii("%!PS"))) return { kind: "unsupported", label: "PostScript" };
  if (startsWith(head, ascii("BM"))) return { kind: "unsupported", label: "BMP" };
  if (startsWith(head, [0x00, 0x00, 0x01, 0x00])) return { kind: "unsupported", label: "ICO" };
  if (startsWith(head, ascii("8BPS"))) return { kind: "unsupported", label: "PSD" };
  if (startsWith(head, [0xff, 0x0a]) || startsWith(head, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: "unsupported", label: "JPEG XL" };
  }
  if (startsWith(head, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])) return { kind: "unsupported", label: "JPEG 2000" };
  if (looksLikeSvg(head)) return { kind: "unsupported", label: "SVG" };
  return { kind: "unknown" };
}

/** ISO base media file (HEIF family, MP4, …): the major and compatible brands of the `ftyp` box decide. */
function sniffIsoMedia(head: Uint8Array): SniffedFormat {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const boxSize = Math.min(view.getUint32(0), head.length);
  const brands: string[] = [];
  for (let offset = 8; offset + 4 <= boxSize; offset += 4) {
    if (offset === 12) continue; // minor version, not a brand
    brands.push(String.fromCharCode(...head.subarray(offset, offset + 4)));
  }
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return { kind: "supported", format: "avif" };
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return { kind: "unsupported", label: "HEIC" };
  return { kind: "unsupported", label: `ISO media (${brands[0] ?? "?"})` };
}

/** SVG is XML text: optional BOM, whitespace, XML declaration, comments or doctype, then an `<svg` element. */
function looksLikeSvg(head: Uint8Array): boolean {
  const text = new TextDecoder("utf-8", { fatal: false })
    .decode(head)
    .replace(/^\uFEFF/, "")
    .trimStart();
  if (!text.startsWith("<")) return false;
  return /<svg[\s>]/i.test(text);
}
