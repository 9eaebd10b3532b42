import { buildTestItem, type DemoFamily, type TestItem } from "./testSet";

/**
 * The Examples row's images and starter questions: test-set-style items (testSet.ts) at seeds outside the published
 * test set, chosen because the committed demo model answers their questions right (tests/integration/demo-model.test.ts
 * checks that it still does). scripts/make-examples.ts renders them into public/examples/.
 */
export interface DemoExample {
  /** File name in public/examples/. */
  file: string;
  title: string;
  family: DemoFamily;
  seed: number;
}

export const DEMO_EXAMPLES: readonly DemoExample[] = [
  { file: "dialog-close.png", title: "Dialog: where to click", family: "gui", seed: 783022 },
  { file: "dialog-disabled.png", title: "Dialog: disabled button", family: "gui", seed: 784437 },
  { file: "dialog-title.png", title: "Dialog: window title", family: "gui", seed: 781033 },
  { file: "shapes.png", title: "Shapes", family: "shapes", seed: 777341 },
  { file: "chart-lowest.png", title: "Chart: lowest value", family: "charts", seed: 781088 },
  { file: "chart-value.png", title: "Chart: a value", family: "charts", seed: 781490 },
];

/** The example's picture and questions with their right answers; always a PNG. */
export function demoExampleItem(example: DemoExample): TestItem {
  return {
    ...buildTestItem(example.family, example.seed, example.file.replace(/\.png$/, "")),
    encoding: { format: "png" },
  };
}
