import { chatPromptCheck } from "./checks/chatPrompt";
import { firstLogitsCheck } from "./checks/firstLogits";
import { greedyCheck } from "./checks/greedy";
import { preprocessingCheck } from "./checks/preprocessing";
import { tokenizerCheck } from "./checks/tokenizer";
import { visionCheck } from "./checks/vision";
import type { ParityCheck } from "./types";

/**
 * The checks `npm run parity` runs, in table order. A new check is a module exporting a ParityCheck (see types.ts),
 * added here with one line.
 */
export const PARITY_CHECKS: readonly ParityCheck[] = [
  preprocessingCheck,
  tokenizerCheck,
  chatPromptCheck,
  visionCheck,
  firstLogitsCheck,
  greedyCheck,
];
