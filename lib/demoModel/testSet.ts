import { demoTasks, fillTemplate, type DemoTasks, type ShapeKind } from "./tasks";

/**
 * The demo model's held-out test set, drawn as SVG (rasterised by sharp in renderTestImage.ts) — a different renderer
 * from the PIL one the model was trained on, with its own layouts and seeds, so a right answer means the model reads
 * the picture rather than recalls a training image. Pure: the items are a function of the seed.
 *
 * Families: shapes, charts, text, gui (grounding answers `{"bbox_2d": [x1, y1, x2, y2], "label": "…"}`, 0..1000
 * relative), follow-up (two turns; the second refers to the first).
 */

export const DEMO_FAMILIES = ["shapes", "charts", "text", "gui", "follow-up"] as const;
export type DemoFamily = (typeof DEMO_FAMILIES)[number];

export interface TestTurn {
  question: string;
  answer: string;
}

export interface TestItem {
  id: string;
  family: DemoFamily;
  width: number;
  height: number;
  svg: string;
  /** How the file is stored: PNG, or JPEG at a quality; `exifOrientation` 6 or 8 stores the pixels rotated with an
   * EXIF tag that turns them upright again (a phone photo). */
  encoding: { format: "png" } | { format: "jpeg"; quality: number; exifOrientation?: 6 | 8 };
  turns: TestTurn[];
}

type Rng = () => number;

/** mulberry32: small, fast, and the same sequence on every platform. */
export function seededRng(seed: number): Rng {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)];
function sample<T>(rng: Rng, list: readonly T[], n: number): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}

const css = ([r, g, b]: readonly number[]): string => `rgb(${r},${g},${b})`;
const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function background(rng: Rng): string {
  const r = rng();
  if (r < 0.4) return "rgb(255,255,255)";
  if (r < 0.7) {
    const g = int(rng, 230, 248);
    return `rgb(${g},${g},${g})`;
  }
  return `rgb(${int(rng, 228, 255)},${int(rng, 228, 255)},${int(rng, 218, 248)})`;
}

/** A width × height with the long side in [lo, hi] and one of the aspect ratios. */
function canvas(rng: Rng, aspects: readonly [number, number][], lo: number, hi: number): [number, number] {
  const [aw, ah] = pick(rng, aspects);
  const long = int(rng, lo, hi);
  return aw >= ah
    ? [long, Math.max(48, Math.round((long * ah) / aw))]
    : [Math.max(48, Math.round((long * aw) / ah)), long];
}

function svgDoc(width: number, height: number, bg: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="${bg}"/>${body}</svg>`;
}

/** tasks.json font names are font file names (as PIL loads them); SVG asks fontconfig for family and weight. */
function svgFont(file: string): { family: string; weight: "normal" | "bold" } {
  const weight = /-Bold/.test(file) ? "bold" : "normal";
  const base = file.replace(/-(Bold|Regular)$/, "");
  const family = base.replace(
    /^(DejaVu|Liberation)(Sans|Serif|Mono)(Mono)?$/,
    (_, vendor: string, kind: string, mono?: string) => [vendor, kind, mono].filter(Boolean).join(" "),
  );
  return { family, weight };
}

/** Approximate advance width of `text` at `size` px (SVG has no font metrics here): generous, so text fits its box. */
const textWidth = (text: string, size: number, mono = false, bold = false): number =>
  text.length * size * (mono ? 0.62 : bold ? 0.7 : 0.6);

// ---------------------------------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------------------------------

interface PlacedShape {
  kind: ShapeKind;
  colour: string;
  cx: number;
}

function shapeSvg(kind: ShapeKind, cx: number, cy: number, r: number, fill: string): string {
  switch (kind) {
    case "circle":
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`;
    case "square": {
      const s = r * 0.88;
      return `<rect x="${cx - s}" y="${cy - s}" width="${2 * s}" height="${2 * s}" fill="${fill}"/>`;
    }
    case "triangle":
      return `<polygon points="${cx},${cy - r} ${cx + r * 0.98},${cy + r * 0.8} ${cx - r * 0.98},${cy + r * 0.8}" fill="${fill}"/>`;
    case "star": {
      const pts = Array.from({ length: 10 }, (_, i) => {
        const rr = i % 2 === 0 ? r : r * 0.45;
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        return `${(cx + rr * Math.cos(a)).toFixed(1)},${(cy + rr * Math.sin(a)).toFixed(1)}`;
      });
      return `<polygon points="${pts.join(" ")}" fill="${fill}"/>`;
    }
  }
}

function shapesScene(
  rng: Rng,
  tasks: DemoTasks,
  minShapes: number,
): { w: number; h: number; svg: string; shapes: PlacedShape[] } {
  const [w, h] = canvas(
    rng,
    [
      [1, 1],
      [4, 3],
      [3, 4],
      [2, 1],
      [1, 2],
    ],
    180,
    400,
  );
  const [cols, rows] = Math.abs(w - h) < 0.2 * Math.max(w, h) ? [3, 3] : w >= h ? [3, 2] : [2, 3];
  const cells = sample(
    rng,
    Array.from({ length: cols * rows }, (_, i) => [i % cols, Math.floor(i / cols)] as const),
    int(rng, minShapes, 4),
  );
  const kinds = sample(rng, tasks.shapes, cells.length);
  const colours = sample(rng, Object.keys(tasks.colours), cells.length);
  const cw = w / cols;
  const ch = h / rows;
  const shapes: PlacedShape[] = [];
  let body = "";
  cells.forEach(([cx, cy], i) => {
    const r = Math.min(cw, ch) * (0.27 + rng() * 0.14);
    const x = (cx + 0.5) * cw + (rng() * 2 - 1) * (cw / 2 - r) * 0.7;
    const y = (cy + 0.5) * ch + (rng() * 2 - 1) * (ch / 2 - r) * 0.7;
    body += shapeSvg(kinds[i], x, y, r, css(tasks.colours[colours[i]]));
    shapes.push({ kind: kinds[i], colour: colours[i], cx: x });
  });
  return { w, h, svg: svgDoc(w, h, background(rng), body), shapes };
}

function shapeColourTurn(rng: Rng, tasks: DemoTasks, s: PlacedShape): TestTurn {
  const q = tasks.questions.shapeColour;
  return {
    question: fillTemplate(pick(rng, q.ask), { shape: s.kind }),
    answer: fillTemplate(q.answer!, { shape: s.kind, colour: s.colour }),
  };
}

function shapesItem(rng: Rng, tasks: DemoTasks): Omit<TestItem, "id" | "encoding"> {
  const scene = shapesScene(rng, tasks, 1);
  const qs = tasks.questions;
  const s = pick(rng, scene.shapes);
  const pairs = scene.shapes.flatMap((a) =>
    scene.shapes.filter((b) => b !== a && Math.abs(a.cx - b.cx) > scene.w * 0.15).map((b) => [a, b] as const),
  );
  const kind = pick(rng, ["colour", "kind", "count", ...(pairs.length > 0 ? ["side"] : [])]);
  let turn: TestTurn;
  if (kind === "colour") turn = shapeColourTurn(rng, tasks, s);
  else if (kind === "kind")
    turn = {
      question: fillTemplate(pick(rng, qs.shapeKind.ask), { colour: s.colour }),
      answer: fillTemplate(qs.shapeKind.answer!, { colour: s.colour, shape: s.kind }),
    };
  else if (kind === "count") {
    const n = scene.shapes.length;
    turn = {
      question: pick(rng, qs.shapeCount.ask),
      answer: n === 1 ? qs.shapeCount.answerOne! : fillTemplate(qs.shapeCount.answer!, { count: n }),
    };
  } else {
    const [a, b] = pick(rng, pairs);
    const values = { shape: a.kind, other: b.kind, side: a.cx < b.cx ? "left" : "right" };
    turn = {
      question: fillTemplate(pick(rng, qs.shapeSide.ask), values),
      answer: fillTemplate(qs.shapeSide.answer!, values),
    };
  }
  return { family: "shapes", width: scene.w, height: scene.h, svg: scene.svg, turns: [turn] };
}

// ---------------------------------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------------------------------

interface Chart {
  w: number;
  h: number;
  svg: string;
  line: boolean;
  labels: string[];
  values: number[];
}

function chartScene(rng: Rng, tasks: DemoTasks): Chart {
  const line = rng() < 0.35;
  const [w, h] = canvas(
    rng,
    [
      [4, 3],
      [16, 9],
      [2, 1],
      [3, 2],
    ],
    240,
    440,
  );
  const n = int(rng, 3, 6);
  const set = pick(rng, tasks.chartLabelSets);
  const start = int(rng, 0, set.length - n);
  const labels = set.slice(start, start + n);
  let values: number[];
  do values = labels.map(() => int(rng, 1, 9));
  while (
    values.filter((v) => v === Math.max(...values)).length !== 1 ||
    values.filter((v) => v === Math.min(...values)).length !== 1
  );
  const fs = Math.max(10, Math.min(15, Math.round(h * 0.052)));
  const title = rng() < 0.5 ? pick(rng, tasks.chartTitles) : null;
  const top = fs * 2 + (title ? fs + 4 : 0);
  const left = fs * 2 + 6;
  const right = w - int(rng, 10, 18);
  const bottom = h - fs * 2 - 4;
  const colour = css(pick(rng, Object.values(tasks.colours)));
  const text = (x: number, y: number, s: string, anchor = "middle") =>
    `<text x="${x}" y="${y}" font-family="DejaVu Sans" font-size="${fs}" fill="rgb(20,20,20)" text-anchor="${anchor}">${esc(s)}</text>`;
  let body = title ? text(w / 2, fs + 2, title) : "";
  body += `<polyline points="${left},${top - 4} ${left},${bottom} ${right},${bottom}" fill="none" stroke="rgb(60,60,60)" stroke-width="1"/>`;
  for (const tick of [0, 5, 10]) {
    const y = bottom - ((bottom - top) * tick) / 10;
    body +=
      `<line x1="${left - 4}" y1="${y}" x2="${left}" y2="${y}" stroke="rgb(60,60,60)"/>` +
      text(left - 6, y + fs * 0.35, String(tick), "end");
  }
  const slot = (right - left) / n;
  const points: string[] = [];
  labels.forEach((label, i) => {
    const cx = left + slot * (i + 0.5);
    const y = bottom - ((bottom - top) * values[i]) / 10;
    if (!line) {
      const bw = slot * (0.5 + rng() * 0.18);
      body += `<rect x="${cx - bw / 2}" y="${y}" width="${bw}" height="${bottom - y}" fill="${colour}"/>`;
    } else {
      body += `<circle cx="${cx}" cy="${y}" r="3" fill="${colour}"/>`;
    }
    points.push(`${cx},${y}`);
    body += text(cx, y - 5, String(values[i])) + text(cx, bottom + fs + 3, label);
  });
  if (line) body += `<polyline points="${points.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`;
  return { w, h, svg: svgDoc(w, h, background(rng), body), line, labels, values };
}

function chartValueTurn(rng: Rng, tasks: DemoTasks, chart: Chart, i: number): TestTurn {
  const q = tasks.questions.chartValue;
  return {
    question: fillTemplate(pick(rng, q.ask), { label: chart.labels[i] }),
    answer: fillTemplate(q.answer!, { label: chart.labels[i], value: chart.values[i] }),
  };
}

function chartsItem(rng: Rng, tasks: DemoTasks): Omit<TestItem, "id" | "encoding"> {
  const chart = chartScene(rng, tasks);
  const kind = pick(rng, ["chartHighest", "chartLowest", "chartValue", "chartValue"] as const);
  let turn: TestTurn;
  if (kind === "chartValue") turn = chartValueTurn(rng, tasks, chart, int(rng, 0, chart.labels.length - 1));
  else {
    const q = tasks.questions[kind];
    const target = kind === "chartHighest" ? Math.max(...chart.values) : Math.min(...chart.values);
    turn = {
      question: pick(rng, chart.line ? q.askLine! : q.ask),
      answer: fillTemplate(q.answer!, { label: chart.labels[chart.values.indexOf(target)] }),
    };
  }
  return { family: "charts", width: chart.w, height: chart.h, svg: chart.svg, turns: [turn] };
}

// ---------------------------------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------------------------------

function textItem(rng: Rng, tasks: DemoTasks): Omit<TestItem, "id" | "encoding"> {
  const text = pick(rng, tasks.signTexts);
  const colour = pick(rng, tasks.textColours);
  const fontFile = pick(rng, tasks.fonts);
  const font = svgFont(fontFile);
  const [w, h] = canvas(
    rng,
    [
      [2, 1],
      [3, 1],
      [4, 3],
      [1, 1],
      [16, 9],
    ],
    180,
    420,
  );
  const mono = font.family.includes("Mono");
  const bold = font.weight === "bold";
  const size = Math.max(
    12,
    Math.min(Math.floor(h * 0.45), Math.floor((w * (0.5 + rng() * 0.3)) / textWidth(text, 1, mono, bold))),
  );
  const tw = textWidth(text, size, mono, bold);
  const cx = w / 2 + (rng() * 2 - 1) * Math.max(0, (w - tw) / 2 - 0.05 * w);
  const cy = h / 2 + (rng() * 2 - 1) * Math.max(0, (h - size) / 2 - 0.12 * h);
  let body = "";
  if (rng() < 0.5) {
    const pad = size * 0.4;
    const plate = rng() < 0.6 ? "rgb(250,250,244)" : "rgb(255,236,150)";
    body += `<rect x="${cx - tw / 2 - pad}" y="${cy - size * 0.55 - pad}" width="${tw + 2 * pad}" height="${size * 1.1 + 2 * pad}" rx="${pad / 2}" fill="${plate}" stroke="rgb(90,90,90)" stroke-width="2"/>`;
  }
  body += `<text x="${cx}" y="${cy + size * 0.36}" font-family="${font.family}" font-weight="${font.weight}" font-size="${size}" fill="${css(tasks.colours[colour])}" text-anchor="middle">${esc(text)}</text>`;
  const q = rng() < 0.8 ? tasks.questions.textRead : tasks.questions.textColour;
  const turn = { question: pick(rng, q.ask), answer: fillTemplate(q.answer!, { text, colour }) };
  return { family: "text", width: w, height: h, svg: svgDoc(w, h, background(rng), body), turns: [turn] };
}

// ---------------------------------------------------------------------------------------------------------------------
// GUI screenshots
// ---------------------------------------------------------------------------------------------------------------------

interface Widget {
  kind: "button" | "field" | "checkbox";
  label: string;
  box: [number, number, number, number];
  disabled?: boolean;
  checked?: boolean;
}

interface Gui {
  w: number;
  h: number;
  svg: string;
  title: string;
  widgets: Widget[];
}

function guiScene(rng: Rng, tasks: DemoTasks, minButtons: number): Gui {
  const fs = int(rng, 11, 14);
  const fields = sample(rng, tasks.fields, int(rng, 0, 3));
  const checks = sample(rng, tasks.checkboxes, int(rng, 0, 2));
  const buttons = sample(rng, tasks.buttons, int(rng, minButtons, 4));
  const rowH = fs * 2 + int(rng, 6, 12);
  const titleH = fs + int(rng, 10, 16);
  const margin = int(rng, 10, 20);
  const gap = int(rng, 6, 14);
  const toolbar = rng() < 0.25;
  const btnW = buttons.map((b) => textWidth(b, fs) + fs * 2);
  const btnH = fs + int(rng, 10, 14);
  const rowW = btnW.reduce((a, b) => a + b, 0) + gap * (buttons.length - 1);
  const w = Math.round((Math.max(rowW, 200) + 2 * margin) * (1 + rng() * 0.5));
  const h = Math.round(titleH + margin + (fields.length + checks.length) * rowH + btnH + 2 * margin + int(rng, 0, 110));
  const title = pick(rng, tasks.windowTitles);
  const darkTitle = rng() < 0.5;
  const label = (x: number, y: number, s: string, fill: string, anchor = "start") =>
    `<text x="${x}" y="${y}" font-family="DejaVu Sans" font-size="${fs}" fill="${fill}" text-anchor="${anchor}">${esc(s)}</text>`;
  let body = `<rect x="0" y="0" width="${w}" height="${titleH}" fill="${darkTitle ? "rgb(58,88,150)" : "rgb(214,218,226)"}"/>`;
  body += label(margin, titleH / 2 + fs * 0.36, title, darkTitle ? "white" : "rgb(20,20,20)");
  const widgets: Widget[] = [];
  let y = titleH + margin + (toolbar ? btnH + margin : 0);
  const labelW = Math.max(0, ...fields.map((f) => textWidth(f, fs))) + 10;
  for (const name of fields) {
    body += label(margin, y + rowH / 2 + fs * 0.36, name, "rgb(30,30,30)");
    const box: Widget["box"] = [margin + labelW, y + 4, w - margin, y + rowH - 4];
    body += `<rect x="${box[0]}" y="${box[1]}" width="${box[2] - box[0]}" height="${box[3] - box[1]}" fill="white" stroke="rgb(130,130,130)"/>`;
    widgets.push({ kind: "field", label: name, box });
    y += rowH;
  }
  for (const name of checks) {
    const s = fs + 2;
    const cy = y + rowH / 2;
    const checked = rng() < 0.5;
    body += `<rect x="${margin}" y="${cy - s / 2}" width="${s}" height="${s}" fill="white" stroke="rgb(80,80,80)"/>`;
    if (checked)
      body += `<polyline points="${margin + 3},${cy} ${margin + s / 2 - 1},${cy + s / 2 - 3} ${margin + s - 3},${cy - s / 2 + 3}" fill="none" stroke="rgb(30,30,30)" stroke-width="2"/>`;
    body += label(margin + s + 6, cy + fs * 0.36, name, "rgb(30,30,30)");
    widgets.push({
      kind: "checkbox",
      label: name,
      box: [margin, cy - s / 2, margin + s + 6 + textWidth(name, fs), cy + s / 2],
      checked,
    });
    y += rowH;
  }
  const disabled = rng() < 0.6 ? int(rng, 0, buttons.length - 1) : -1;
  const primary = rng() < 0.5 ? int(rng, 0, buttons.length - 1) : -1;
  let x = pick(rng, [w - margin - rowW, (w - rowW) / 2, margin]);
  const by = toolbar ? titleH + margin : h - margin - btnH;
  buttons.forEach((name, i) => {
    const [face, ink, edge] =
      i === disabled
        ? ["rgb(232,232,232)", "rgb(165,165,165)", "rgb(200,200,200)"]
        : i === primary
          ? ["rgb(50,110,210)", "white", "rgb(40,90,180)"]
          : ["rgb(250,250,250)", "rgb(20,20,20)", "rgb(120,120,120)"];
    body += `<rect x="${x}" y="${by}" width="${btnW[i]}" height="${btnH}" rx="${pick(rng, [0, 3, 5])}" fill="${face}" stroke="${edge}"/>`;
    body += label(x + btnW[i] / 2, by + btnH / 2 + fs * 0.36, name, ink, "middle");
    widgets.push({ kind: "button", label: name, box: [x, by, x + btnW[i], by + btnH], disabled: i === disabled });
    x += btnW[i] + gap;
  });
  return { w, h, svg: svgDoc(w, h, "rgb(240,240,240)", body), title, widgets };
}

/** Qwen3-VL's grounding answer: integer corners on a 0..1000 grid relative to the image. */
export function groundingAnswer(box: readonly number[], width: number, height: number, label: string): string {
  const rel = [box[0] / width, box[1] / height, box[2] / width, box[3] / height].map((v) =>
    Math.max(0, Math.min(1000, Math.round(v * 1000))),
  );
  return `{"bbox_2d": [${rel.join(", ")}], "label": "${label}"}`;
}

function groundTurn(rng: Rng, tasks: DemoTasks, gui: Gui, target: Widget): TestTurn {
  const asks =
    target.kind === "field"
      ? tasks.questions.guiField.ask
      : target.kind === "checkbox"
        ? ["Where is the {label} checkbox?"]
        : tasks.questions.guiButton.ask;
  return {
    question: fillTemplate(pick(rng, asks), { label: target.label }),
    answer: groundingAnswer(target.box, gui.w, gui.h, target.label),
  };
}

function guiItem(rng: Rng, tasks: DemoTasks): Omit<TestItem, "id" | "encoding"> {
  const gui = guiScene(rng, tasks, 2);
  const qs = tasks.questions;
  const disabled = gui.widgets.find((w) => w.disabled);
  const checks = gui.widgets.filter((w) => w.kind === "checkbox");
  const kind = pick(rng, [
    "ground",
    "ground",
    "ground",
    "title",
    ...(disabled ? ["disabled"] : []),
    ...(checks.length ? ["checked"] : []),
  ]);
  let turn: TestTurn;
  if (kind === "ground") {
    const buttons = gui.widgets.filter((w) => w.kind === "button");
    turn = groundTurn(
      rng,
      tasks,
      gui,
      pick(rng, [...buttons, ...buttons, ...gui.widgets.filter((w) => w.kind !== "button")]),
    );
  } else if (kind === "title")
    turn = { question: pick(rng, qs.guiTitle.ask), answer: fillTemplate(qs.guiTitle.answer!, { title: gui.title }) };
  else if (kind === "disabled")
    turn = {
      question: pick(rng, qs.guiDisabled.ask),
      answer: fillTemplate(qs.guiDisabled.answer!, { label: disabled!.label }),
    };
  else {
    const c = pick(rng, checks);
    turn = {
      question: fillTemplate(pick(rng, qs.guiChecked.ask), { label: c.label }),
      answer: fillTemplate(c.checked ? qs.guiChecked.answer! : qs.guiChecked.answerNo!, { label: c.label }),
    };
  }
  return { family: "gui", width: gui.w, height: gui.h, svg: gui.svg, turns: [turn] };
}

// ---------------------------------------------------------------------------------------------------------------------
// Follow-ups and the whole set
// ---------------------------------------------------------------------------------------------------------------------

function followUpItem(rng: Rng, tasks: DemoTasks): Omit<TestItem, "id" | "encoding"> {
  const qs = tasks.questions;
  const which = pick(rng, ["shapes", "charts", "gui"] as const);
  if (which === "shapes") {
    const scene = shapesScene(rng, tasks, 2);
    const [a, b] = sample(rng, scene.shapes, 2);
    const second = {
      question: fillTemplate(pick(rng, qs.followShape.ask), { shape: b.kind }),
      answer: shapeColourTurn(rng, tasks, b).answer,
    };
    return {
      family: "follow-up",
      width: scene.w,
      height: scene.h,
      svg: scene.svg,
      turns: [shapeColourTurn(rng, tasks, a), second],
    };
  }
  if (which === "charts") {
    const chart = chartScene(rng, tasks);
    const [i, j] = sample(rng, [...chart.labels.keys()], 2);
    const second = {
      question: fillTemplate(pick(rng, qs.followChart.ask), { label: chart.labels[j] }),
      answer: chartValueTurn(rng, tasks, chart, j).answer,
    };
    return {
      family: "follow-up",
      width: chart.w,
      height: chart.h,
      svg: chart.svg,
      turns: [chartValueTurn(rng, tasks, chart, i), second],
    };
  }
  const gui = guiScene(rng, tasks, 2);
  const [a, b] = sample(
    rng,
    gui.widgets.filter((w) => w.kind === "button"),
    2,
  );
  const second = {
    question: fillTemplate(pick(rng, qs.followButton.ask), { label: b.label }),
    answer: groundingAnswer(b.box, gui.w, gui.h, b.label),
  };
  return {
    family: "follow-up",
    width: gui.w,
    height: gui.h,
    svg: gui.svg,
    turns: [groundTurn(rng, tasks, gui, a), second],
  };
}

const MAKERS: Record<DemoFamily, (rng: Rng, tasks: DemoTasks) => Omit<TestItem, "id" | "encoding">> = {
  shapes: shapesItem,
  charts: chartsItem,
  text: textItem,
  gui: guiItem,
  "follow-up": followUpItem,
};

function encodingFor(rng: Rng, family: DemoFamily): TestItem["encoding"] {
  const r = rng();
  if (r < 0.55) return { format: "png" };
  // Photos of shapes and signs may come from a phone: stored rotated, with the EXIF tag that turns them upright.
  const exif = family === "shapes" || family === "text" ? pick(rng, [undefined, undefined, 6, 8] as const) : undefined;
  return { format: "jpeg", quality: int(rng, 50, 95), ...(exif ? { exifOrientation: exif } : {}) };
}

/** One item of a family, a pure function of its seed. */
export function buildTestItem(family: DemoFamily, seed: number, id: string): TestItem {
  const rng = seededRng(seed);
  const item = MAKERS[family](rng, demoTasks());
  return { ...item, id, encoding: encodingFor(rng, family) };
}

/** `perFamily` items of each family (a follow-up item holds two questions). The default seed is the published set. */
export function buildTestSet(perFamily: number, seed = 20261203): TestItem[] {
  return DEMO_FAMILIES.flatMap((family, f) =>
    Array.from({ length: perFamily }, (_, i) =>
      buildTestItem(family, seed + 7919 * f + i * 104729, `${family}-${String(i).padStart(3, "0")}`),
    ),
  );
}
