import { FaultError, type Fault } from "@/lib/fault";

/** Why text could not be tokenised or a prompt built. Bundle problems (`invalid_tokenizer`, `invalid_chat_template`)
 *  are the server's fault; the others describe a request. */
export type TextErrorCode =
  "invalid_tokenizer" | "invalid_chat_template" | "chat_template_failed" | "image_count_mismatch" | "invalid_messages";

const FAULT: Record<TextErrorCode, Fault> = {
  invalid_tokenizer: "server",
  invalid_chat_template: "server",
  chat_template_failed: "request",
  image_count_mismatch: "request",
  invalid_messages: "request",
};

export class TextError extends FaultError<TextErrorCode> {
  constructor(code: TextErrorCode, message: string) {
    super(code, message, FAULT);
    this.name = "TextError";
  }
}
