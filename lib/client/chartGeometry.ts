/**
 * Geometry for the /metrics page's small SVG charts: scales, readable tick values and line paths. Hand-written
 * because the page needs four simple charts and a charting library would weigh more than the rest of the page.
 */

export type Scale = (value: number) => number;

/** Maps [d0, d1] linearly onto [r0, r1]; a degenerate domain maps everything to the middle of the range. */
export function linearScale([d0, d1]: [number, number], [r0, r1]: [number, number]): Scale {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * k;
}

/**
 * About `count` evenly spaced values covering [min, max], at steps of 1, 2 or 5 times a power of ten, so axis labels
 * read 0, 20, 40 … rather than 0, 17.3, 34.6 ….
 */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min) || count < 1) return [min];
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const first = Math.ceil(min / step) * step;
  const ticks: number[] = [];
  // Rounding to the step's precision keeps 0.1 + 0.2 from printing as 0.30000000000000004.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let value = first; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toFixed(decimals)));
  return ticks;
}

/** SVG path through the points; a null `y` breaks the line, so a gap in the data shows as a gap. */
export function linePath(points: { x: number; y: number | null }[]): string {
  const parts: string[] = [];
  let drawing = false;
  for (const { x, y } of points) {
    if (y === null) {
      drawing = false;
      continue;
    }
    parts.push(`${drawing ? "L" : "M"}${round(x)} ${round(y)}`);
    drawing = true;
  }
  return parts.join(" ");
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Average advance of a character in the charts' sans-serif labels, as a fraction of the font size (generous). */
const CHAR_WIDTH_EM = 0.62;

/**
 * Every how many category slots an x label fits without touching its neighbour: 1 labels every slot, 2 every other
 * one, …. Labels are centred on their slot, so two labels `stride` slots apart need `stride * slotWidth` to exceed
 * the longer label's width plus `gap`.
 */
export function labelStride(labels: string[], slotWidth: number, fontSize: number, gap = 6): number {
  const widest = Math.max(0, ...labels.map((label) => label.length)) * fontSize * CHAR_WIDTH_EM;
  if (slotWidth <= 0) return Math.max(1, labels.length);
  return Math.max(1, Math.ceil((widest + gap) / slotWidth));
}
