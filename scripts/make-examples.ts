/**
 * Renders the example images of the chat page's Examples row (public/examples/*.png) and their starter questions
 * (public/examples/examples.json). The images are drawn as SVG and rasterised by sharp, so they are reproducible
 * and small; the committed PNGs came from this script.
 *
 *   npx tsx scripts/make-examples.ts [--out public/examples]
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";

interface ExampleSource {
  file: string;
  title: string;
  questions: string[];
  svg: string;
}

const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

/** Escapes text for an SVG text node. */
function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function text(x: number, y: number, content: string, attrs = ""): string {
  return `<text x="${x}" y="${y}" font-family="${FONT}" ${attrs}>${xml(content)}</text>`;
}

function button(x: number, y: number, width: number, label: string, primary: boolean): string {
  const fill = primary ? "#2563eb" : "#ffffff";
  const stroke = primary ? "#1d4ed8" : "#94a3b8";
  const color = primary ? "#ffffff" : "#0f172a";
  return (
    `<rect x="${x}" y="${y}" width="${width}" height="34" rx="6" fill="${fill}" stroke="${stroke}"/>` +
    text(x + width / 2, y + 22, label, `font-size="14" text-anchor="middle" fill="${color}"`)
  );
}

function settingsDialog(): string {
  const field = (y: number, label: string, value: string) =>
    text(40, y + 22, label, `font-size="14" fill="#334155"`) +
    `<rect x="200" y="${y}" width="300" height="32" rx="4" fill="#ffffff" stroke="#cbd5e1"/>` +
    text(212, y + 21, value, `font-size="14" fill="#0f172a"`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="420" viewBox="0 0 640 420">
  <rect width="640" height="420" fill="#e2e8f0"/>
  <rect x="20" y="20" width="600" height="380" rx="10" fill="#f8fafc" stroke="#94a3b8"/>
  <rect x="20" y="20" width="600" height="44" rx="10" fill="#1e293b"/>
  <rect x="20" y="50" width="600" height="14" fill="#1e293b"/>
  ${text(40, 48, "Preferences", `font-size="17" font-weight="bold" fill="#f8fafc"`)}
  ${text(596, 48, "×", `font-size="20" fill="#cbd5e1" text-anchor="end"`)}
  ${text(40, 96, "General", `font-size="14" font-weight="bold" fill="#2563eb"`)}
  <rect x="40" y="102" width="58" height="3" fill="#2563eb"/>
  ${text(124, 96, "Privacy", `font-size="14" fill="#64748b"`)}
  ${text(200, 96, "Advanced", `font-size="14" fill="#64748b"`)}
  <line x1="40" y1="106" x2="600" y2="106" stroke="#e2e8f0"/>
  ${field(124, "Display name", "Ada Lovelace")}
  ${field(168, "Language", "English (UK)")}
  ${field(212, "Theme", "Dark ▾")}
  <rect x="40" y="264" width="18" height="18" rx="3" fill="#2563eb"/>
  <path d="M44 273 l4 4 l7 -9" stroke="#ffffff" stroke-width="2.5" fill="none"/>
  ${text(68, 278, "Auto-save every 5 minutes", `font-size="14" fill="#0f172a"`)}
  <rect x="40" y="296" width="18" height="18" rx="3" fill="#ffffff" stroke="#94a3b8"/>
  ${text(68, 310, "Send anonymous usage statistics", `font-size="14" fill="#0f172a"`)}
  ${button(300, 346, 90, "Cancel", false)}
  ${button(400, 346, 90, "Apply", false)}
  ${button(500, 346, 100, "Save", true)}
</svg>`;
}

function barChart(): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"];
  const values = [12, 18, 15, 24, 30, 27];
  const left = 80;
  const bottom = 340;
  const plotHeight = 240;
  const max = 35;
  const slot = 80;
  const grid = [0, 5, 10, 15, 20, 25, 30, 35]
    .map((v) => {
      const y = bottom - (v / max) * plotHeight;
      return `<line x1="${left}" y1="${y}" x2="${left + slot * months.length}" y2="${y}" stroke="#e2e8f0"/>` +
        text(left - 10, y + 5, String(v), `font-size="13" text-anchor="end" fill="#475569"`);
    })
    .join("");
  const bars = values
    .map((v, i) => {
      const h = (v / max) * plotHeight;
      const x = left + i * slot + 16;
      return `<rect x="${x}" y="${bottom - h}" width="48" height="${h}" fill="${v === Math.max(...values) ? "#ea580c" : "#3b82f6"}"/>` +
        text(x + 24, bottom - h - 8, String(v), `font-size="13" text-anchor="middle" fill="#0f172a"`) +
        text(x + 24, bottom + 22, months[i], `font-size="14" text-anchor="middle" fill="#0f172a"`);
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="420" viewBox="0 0 640 420">
  <rect width="640" height="420" fill="#ffffff"/>
  ${text(320, 44, "Monthly active users, first half of 2024", `font-size="19" font-weight="bold" text-anchor="middle" fill="#0f172a"`)}
  ${grid}
  <line x1="${left}" y1="${bottom}" x2="${left + slot * months.length}" y2="${bottom}" stroke="#334155" stroke-width="1.5"/>
  <line x1="${left}" y1="${bottom - plotHeight}" x2="${left}" y2="${bottom}" stroke="#334155" stroke-width="1.5"/>
  ${bars}
  ${text(320, 396, "Month", `font-size="14" text-anchor="middle" fill="#334155"`)}
  ${text(26, 220, "Users (thousands)", `font-size="14" text-anchor="middle" fill="#334155" transform="rotate(-90 26 220)"`)}
</svg>`;
}

function documentSnippet(): string {
  const paragraph = (y: number, lines: string[]) =>
    lines.map((line, i) => text(48, y + i * 22, line, `font-size="15" fill="#1f2937"`)).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="420" viewBox="0 0 640 420">
  <rect width="640" height="420" fill="#f1f5f9"/>
  <rect x="24" y="16" width="592" height="404" fill="#ffffff" stroke="#cbd5e1"/>
  ${text(48, 62, "Release notes — version 2.4", `font-size="24" font-weight="bold" fill="#0f172a"`)}
  ${text(48, 88, "Published 12 March 2024 by the platform team", `font-size="13" fill="#64748b"`)}
  <line x1="48" y1="102" x2="592" y2="102" stroke="#e2e8f0"/>
  ${paragraph(132, [
    "Version 2.4 makes search results appear up to three times faster",
    "by caching the index in memory between requests. Nothing changes",
    "for users; the first search after a restart is as fast as before.",
  ])}
  ${text(48, 222, "Breaking change", `font-size="18" font-weight="bold" fill="#b91c1c"`)}
  ${paragraph(252, [
    "The export endpoint now returns CSV by default. Clients that",
    "expect JSON must send the header Accept: application/json.",
  ])}
  ${text(48, 320, "Upgrade steps", `font-size="18" font-weight="bold" fill="#0f172a"`)}
  ${paragraph(350, [
    "1. Back up the database.   2. Install the new package.",
    "3. Restart the service and check the health page.",
  ])}
</svg>`;
}

const EXAMPLES: ExampleSource[] = [
  {
    file: "settings-dialog.png",
    title: "Settings dialog",
    questions: [
      "Which button saves the changes and closes the dialog?",
      "How often does auto-save run?",
      "Which theme is selected, and which tab is open?",
    ],
    svg: settingsDialog(),
  },
  {
    file: "bar-chart.png",
    title: "Bar chart",
    questions: [
      "Which month had the most active users, and how many?",
      "What do the two axes measure?",
      "Describe the trend from January to June.",
    ],
    svg: barChart(),
  },
  {
    file: "document-snippet.png",
    title: "Document snippet",
    questions: [
      "What is the title of this document?",
      "What is the breaking change, and what must clients do about it?",
      "List the upgrade steps.",
    ],
    svg: documentSnippet(),
  },
];

async function main(): Promise<void> {
  const outFlag = process.argv.indexOf("--out");
  const outDir = path.resolve(outFlag >= 0 ? process.argv[outFlag + 1] : "public/examples");
  await mkdir(outDir, { recursive: true });
  for (const [i, example] of EXAMPLES.entries()) {
    const target = path.join(outDir, example.file);
    const info = await sharp(Buffer.from(example.svg)).png({ compressionLevel: 9, palette: true }).toFile(target);
    console.log(`[${i + 1}/${EXAMPLES.length}] ${example.file}: ${info.width}×${info.height}, ${info.size} bytes`);
  }
  const manifest = EXAMPLES.map(({ file, title, questions }) => ({ file, title, questions }));
  await writeFile(path.join(outDir, "examples.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${path.join(outDir, "examples.json")}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
