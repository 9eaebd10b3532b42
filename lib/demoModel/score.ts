/**
 * Scoring of the demo model's answers, the same rules as scripts/demo-model/train.py's PyTorch evaluation: a grounding
 * answer (`{"bbox_2d": [x1, y1, x2, y2], "label": "…"}`, 0..1000 relative) is right when its label matches and its box
 * overlaps the expected one with IoU ≥ 0.5; every other answer must match exactly.
 */

export interface Grounding {
  box: [number, number, number, number];
  label: string;
}

const GROUNDING = /^\{"bbox_2d":\s*\[([^\]]*)\],\s*"label":\s*"([^"]*)"\}$/;

/** The grounding an answer consists of, or null when the answer is not exactly one grounding object. */
export function parseGrounding(answer: string): Grounding | null {
  const match = GROUNDING.exec(answer.trim());
  if (!match) return null;
  const coords = match[1].split(",").map((c) => Number(c.trim()));
  if (coords.length !== 4 || coords.some((c) => !Number.isFinite(c))) return null;
  return { box: coords as Grounding["box"], label: match[2] };
}

export function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export interface AnswerScore {
  correct: boolean;
  /** IoU with the expected box for grounding questions (0 when the answer has no box), else null. */
  iou: number | null;
}

export function scoreAnswer(expected: string, got: string): AnswerScore {
  const want = parseGrounding(expected);
  if (want === null) return { correct: got === expected, iou: null };
  const have = parseGrounding(got);
  const overlap = have ? iou(want.box, have.box) : 0;
  return { correct: have !== null && have.label === want.label && overlap >= 0.5, iou: overlap };
}

export interface FamilyScore {
  questions: number;
  correct: number;
  correctPct: number;
  boxes: number;
  /** Share of grounding questions whose box has IoU ≥ 0.5 (label aside); null without grounding questions. */
  iouAtLeastHalfPct: number | null;
}

const pct = (n: number, d: number): number => Math.round((1000 * n) / d) / 10;

export function scoreTable(rows: readonly ({ family: string } & AnswerScore)[]): Record<string, FamilyScore> {
  const table: Record<string, FamilyScore> = {};
  for (const family of [...new Set(rows.map((r) => r.family))].sort()) {
    const mine = rows.filter((r) => r.family === family);
    const boxes = mine.filter((r) => r.iou !== null);
    const correct = mine.filter((r) => r.correct).length;
    table[family] = {
      questions: mine.length,
      correct,
      correctPct: pct(correct, mine.length),
      boxes: boxes.length,
      iouAtLeastHalfPct: boxes.length ? pct(boxes.filter((r) => (r.iou ?? 0) >= 0.5).length, boxes.length) : null,
    };
  }
  return table;
}
