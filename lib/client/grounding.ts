/**
 * Grounding answers (Qwen3-VL's convention): the model names regions of the image as JSON objects
 * `{"bbox_2d": [x1, y1, x2, y2], "label": "…"}`, with coordinates from 0 to 1000 relative to the image's width and
 * height, one object or a list, bare or inside a ```json block. This module finds them in an answer's text and turns
 * them into percentages of the image for drawing. Pure.
 */

/** Qwen3-VL's grounding coordinates run from 0 to this value across the image, whatever its size in pixels. */
export const GROUNDING_SCALE = 1000;

export interface GroundingBox {
  label: string;
  /** [x1, y1, x2, y2] as the model wrote them, 0–1000. */
  bbox: [number, number, number, number];
}

/** A box as percentages of the image, clamped to it, with x1 ≤ x2 and y1 ≤ y2 whatever order the model used. */
export interface BoxPlacement {
  leftPct: number;
  topPct: number;
  widthPct: number;
  heightPct: number;
}

function asBox(value: unknown): GroundingBox | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const bbox = record.bbox_2d;
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((n) => typeof n === "number" && Number.isFinite(n)))
    return null;
  const label = typeof record.label === "string" ? record.label : "";
  return { label, bbox: bbox as GroundingBox["bbox"] };
}

function collectBoxes(value: unknown, into: GroundingBox[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectBoxes(item, into);
    return;
  }
  const box = asBox(value);
  if (box !== null) into.push(box);
}

/** Index just past the JSON object or array opening at `start`, or -1 when it never closes (strings respected). */
function closingIndex(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Every grounding box in `text`, in order of appearance. JSON that does not parse (e.g. still streaming) or objects
 * without a four-number `bbox_2d` are skipped; a missing label reads as "".
 */
export function parseGroundingBoxes(text: string): GroundingBox[] {
  const boxes: GroundingBox[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char !== "{" && char !== "[") {
      i++;
      continue;
    }
    const end = closingIndex(text, i);
    if (end === -1) break;
    try {
      collectBoxes(JSON.parse(text.slice(i, end)), boxes);
      i = end;
    } catch {
      i++;
    }
  }
  return boxes;
}

const clampPct = (value: number) => Math.min(100, Math.max(0, (value / GROUNDING_SCALE) * 100));

export function boxPlacement({ bbox: [x1, y1, x2, y2] }: GroundingBox): BoxPlacement {
  const left = clampPct(Math.min(x1, x2));
  const top = clampPct(Math.min(y1, y2));
  return {
    leftPct: left,
    topPct: top,
    widthPct: clampPct(Math.max(x1, x2)) - left,
    heightPct: clampPct(Math.max(y1, y2)) - top,
  };
}
