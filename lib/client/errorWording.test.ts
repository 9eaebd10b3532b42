import { describe, expect, it } from "vitest";
import { plainError } from "./errorWording";

describe("plainError", () => {
  it("words a missing model plainly and keeps the loader's message as detail", () => {
    const error = {
      code: "model_unavailable",
      message: "no model is being served: cannot load model bundle: /srv/m/config.json: ENOENT",
    };
    expect(plainError(error)).toEqual({
      summary: "No model is loaded on the server, so it cannot answer.",
      detail: "model_unavailable: no model is being served: cannot load model bundle: /srv/m/config.json: ENOENT",
    });
  });

  it("shows a readable server message as it is", () => {
    expect(
      plainError({ code: "invalid_request", message: "A message needs text or at least one image." }).summary,
    ).toBe("A message needs text or at least one image.");
  });

  it("never shows a path or a system error code of an unknown error", () => {
    for (const message of ["open /var/lib/x/y.onnx failed", "read failed: EACCES", "C:\\models\\a.onnx missing"]) {
      expect(plainError({ code: "internal", message }).summary).toBe("The server could not answer this question.");
    }
  });
});
