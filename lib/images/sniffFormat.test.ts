import { describe, expect, it } from "vitest";
import { sniffImageFormat } from "@/lib/images/sniffFormat";

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "latin1") : Buffer.from(part))));

function ftyp(major: string, compatible: string[]): Buffer {
  const body = bytes("ftyp", major, [0, 0, 0, 0], ...compatible);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(body.length + 4);
  return Buffer.concat([size, body]);
}

describe("sniffImageFormat", () => {
  it("recognises the supported raster formats by signature", () => {
    expect(sniffImageFormat(bytes([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ kind: "supported", format: "jpeg" });
    expect(sniffImageFormat(bytes([0x89], "PNG\r\n\x1a\n"))).toEqual({ kind: "supported", format: "png" });
    expect(sniffImageFormat(bytes("GIF89a"))).toEqual({ kind: "supported", format: "gif" });
    expect(sniffImageFormat(bytes("GIF87a"))).toEqual({ kind: "supported", format: "gif" });
    expect(sniffImageFormat(bytes("RIFF", [1, 2, 3, 4], "WEBPVP8L"))).toEqual({ kind: "supported", format: "webp" });
    expect(sniffImageFormat(bytes("II*", [0]))).toEqual({ kind: "supported", format: "tiff" });
    expect(sniffImageFormat(bytes("MM", [0, 42]))).toEqual({ kind: "supported", format: "tiff" });
  });

  it("tells AVIF from HEIC and other ISO media by brand", () => {
    expect(sniffImageFormat(ftyp("avif", ["mif1", "miaf"]))).toEqual({ kind: "supported", format: "avif" });
    expect(sniffImageFormat(ftyp("mif1", ["miaf", "avif"]))).toEqual({ kind: "supported", format: "avif" });
    expect(sniffImageFormat(ftyp("heic", ["mif1", "heic"]))).toEqual({ kind: "unsupported", label: "HEIC" });
    expect(sniffImageFormat(ftyp("isom", ["mp41"]))).toEqual({ kind: "unsupported", label: "ISO media (isom)" });
  });

  it("recognises formats that are refused", () => {
    expect(sniffImageFormat(bytes("%PDF-1.7"))).toEqual({ kind: "unsupported", label: "PDF" });
    expect(sniffImageFormat(bytes("BM", [0, 0, 0, 0]))).toEqual({ kind: "unsupported", label: "BMP" });
    expect(sniffImageFormat(Buffer.from("\uFEFF  <svg width='1'/>", "utf8"))).toEqual({
      kind: "unsupported",
      label: "SVG",
    });
    expect(
      sniffImageFormat(bytes('<?xml version="1.0"?>\n<!-- x -->\n<svg xmlns="http://www.w3.org/2000/svg">')),
    ).toEqual({
      kind: "unsupported",
      label: "SVG",
    });
  });

  it("answers unknown for text, other XML and empty input", () => {
    expect(sniffImageFormat(bytes("hello"))).toEqual({ kind: "unknown" });
    expect(sniffImageFormat(bytes("<html><body>svg</body></html>"))).toEqual({ kind: "unknown" });
    expect(sniffImageFormat(Buffer.alloc(0))).toEqual({ kind: "unknown" });
  });
});
