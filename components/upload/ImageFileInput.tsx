"use client";

import type { Ref } from "react";
import { uploadStore } from "@/lib/client/stores/uploadStore";

/** The hidden file chooser behind an "attach"/"choose a file" button: every picked file goes to the upload store. */
export function ImageFileInput({ ref, testId }: { ref: Ref<HTMLInputElement>; testId: string }) {
  return (
    <input
      ref={ref}
      data-testid={testId}
      type="file"
      accept="image/*"
      multiple
      className="hidden"
      onChange={(event) => {
        void uploadStore.getState().uploadFiles(Array.from(event.target.files ?? []));
        // Choosing the same file again must fire onChange again.
        event.target.value = "";
      }}
    />
  );
}
