import type { FileHandle } from "node:fs/promises";

/**
 * Writes all of `bytes`, at `position` or at the handle's current position. FileHandle.write may write less than asked
 * for large buffers and refuses more than 2 GiB per call, so this loops in 1 GiB pieces.
 */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position?: number): Promise<void> {
  for (let done = 0; done < bytes.byteLength;) {
    const length = Math.min(1 << 30, bytes.byteLength - done);
    const at = position === undefined ? null : position + done;
    const { bytesWritten } = await handle.write(bytes, done, length, at);
    done += bytesWritten;
  }
}
