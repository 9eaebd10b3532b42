/** Why text could not be tokenised or a prompt built. Bundle problems (`invalid_tokenizer`, `invalid_chat_template`)
 *  are the server's fault (500); the others describe a request (400). */
export type TextErrorCode =
  | "invalid_tokenizer"
  | "invalid_chat_template"
  | "chat_template_failed"
  | "image_count_mismatch"
  | "invalid_messages";

const STATUS: Record<TextErrorCode, number> = {
  invalid_tokenizer: 500,
  invalid_chat_template: 500,
  chat_template_failed: 400,
  image_count_mismatch: 400,
  invalid_messages: 400,
};

export class TextError extends Error {
  readonly status: number;
  constructor(
    readonly code: TextErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "TextError";
    this.status = STATUS[code];
  }
}
