/**
 * The Examples row: bundled images under public/examples/ with starter questions, listed in
 * public/examples/examples.json (written by scripts/make-examples.ts).
 */
import * as z from "zod/mini";

export interface Example {
  /** File name inside public/examples/. */
  file: string;
  title: string;
  questions: string[];
}

const manifestSchema = z.array(
  z.object({
    file: z.string().check(z.regex(/^[a-z0-9-]+\.png$/)),
    title: z.string().check(z.minLength(1)),
    questions: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  }),
);

/** Checks the manifest's shape; throws with the offending field named. */
export function parseExamplesManifest(json: unknown): Example[] {
  const result = manifestSchema.safeParse(json);
  if (!result.success) throw new Error(`public/examples/examples.json is malformed: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** Where the browser loads an example image from. */
export function exampleUrl(example: Example): string {
  return `/examples/${example.file}`;
}
