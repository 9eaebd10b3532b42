import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimDataDir } from "./dataDirLock";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-datadir-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("claimDataDir", () => {
  it("holds the folder for one claim at a time, until released", async () => {
    const release = await claimDataDir(dir);
    expect(await readFile(path.join(dir, "vlcache.pid"), "utf8")).toBe(String(process.pid));
    await expect(claimDataDir(dir)).rejects.toThrow(`in use by process ${process.pid}`);
    await release();
    expect(existsSync(path.join(dir, "vlcache.pid"))).toBe(false);
    await (
      await claimDataDir(dir)
    )();
  });

  it("takes over the claim of a process that is gone (an app that was killed)", async () => {
    const gone = spawnSync("true").pid!;
    await writeFile(path.join(dir, "vlcache.pid"), String(gone));
    const release = await claimDataDir(dir);
    expect(await readFile(path.join(dir, "vlcache.pid"), "utf8")).toBe(String(process.pid));
    await release();
  });
});
