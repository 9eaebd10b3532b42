import { readFileSync, rmSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";

/**
 * One process at a time per persistent data dir: two redis-servers appending to one append-only file would corrupt
 * it. The claim is a `vlcache.pid` file holding the owner's pid, created exclusively; a file whose process is gone (the
 * app was killed) is stale and taken over.
 */
const LOCK_FILE = "vlcache.pid";

/** Claims `dir` for this process; throws when another live process holds it. Resolves to the release function. */
export async function claimDataDir(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, LOCK_FILE);
  const mine = String(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(mine);
      await handle.close();
      const releaseOnExit = () => releaseIfMine(file, mine);
      process.once("exit", releaseOnExit);
      return async () => {
        process.off("exit", releaseOnExit);
        releaseIfMine(file, mine);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
      // This process holding it counts too: a second store in one process must not share the file either.
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new Error(
          `${dir} is in use by process ${holder} (another vlcache on the same CACHE_DIR); give each instance its own CACHE_DIR`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not claim ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function releaseIfMine(file: string, mine: string): void {
  try {
    if (readFileSync(file, "utf8").trim() === mine) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}
