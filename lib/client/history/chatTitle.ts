/** The name a past chat goes by in the history list: the user's, or one made from the first question. */
import type { Question } from "../chatTranscript";
import type { ChatRecord } from "./chatRecord";

/** Long enough to tell chats apart, short enough for one line of the sidebar. */
export const TITLE_MAX_CHARS = 48;

export const UNTITLED = "New chat";
export const IMAGE_ONLY_TITLE = "Question about an image";

/** The first non-blank line, spaces collapsed, cut at a word boundary (when there is one late enough) with "…". */
export function titleFromQuestion(question: Question): string {
  const line = question.text
    .split("\n")
    .map((part) => part.trim().replace(/\s+/g, " "))
    .find((part) => part !== "");
  if (line === undefined) return question.imageIds.length > 0 ? IMAGE_ONLY_TITLE : UNTITLED;
  if (line.length <= TITLE_MAX_CHARS) return line;
  const cut = line.slice(0, TITLE_MAX_CHARS - 1);
  const lastSpace = cut.lastIndexOf(" ");
  return `${(lastSpace >= TITLE_MAX_CHARS / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}

export function chatTitle(record: Pick<ChatRecord, "customTitle" | "turns">): string {
  if (record.customTitle !== null) return record.customTitle;
  const first = record.turns[0];
  return first === undefined ? UNTITLED : titleFromQuestion(first.question);
}
