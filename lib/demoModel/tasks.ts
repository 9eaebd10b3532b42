import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

/**
 * The demo model's task vocabulary (scripts/demo-model/tasks.json): words, colours, labels, question phrasings and
 * answer forms. The training script reads the same file, so the held-out test set asks only what the model was taught
 * to answer — with images from a different renderer (testSet.ts).
 */

const questionSchema = z.object({
  ask: z.array(z.string()).min(1),
  askLine: z.array(z.string()).optional(),
  answer: z.string().optional(),
  answerOne: z.string().optional(),
  answerNo: z.string().optional(),
});

const rgb = z.tuple([z.number().int(), z.number().int(), z.number().int()]);

const tasksSchema = z.object({
  image: z.object({ minPixels: z.number().int().positive(), maxPixels: z.number().int().positive() }),
  colours: z.record(z.string(), rgb),
  textColours: z.array(z.string()),
  shapes: z.array(z.enum(["circle", "square", "triangle", "star"])),
  chartLabelSets: z.array(z.array(z.string()).min(6)),
  chartTitles: z.array(z.string()),
  signTexts: z.array(z.string()),
  fonts: z.array(z.string()),
  buttons: z.array(z.string()),
  fields: z.array(z.string()),
  checkboxes: z.array(z.string()),
  windowTitles: z.array(z.string()),
  questions: z.record(z.string(), questionSchema),
});

export type DemoTasks = z.infer<typeof tasksSchema>;
export type ShapeKind = DemoTasks["shapes"][number];

export const TASKS_FILE = path.join(process.cwd(), "scripts", "demo-model", "tasks.json");

let cached: DemoTasks | null = null;

export function demoTasks(): DemoTasks {
  cached ??= tasksSchema.parse(JSON.parse(readFileSync(TASKS_FILE, "utf8")));
  return cached;
}

/** Fills `{name}` placeholders. */
export function fillTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}
