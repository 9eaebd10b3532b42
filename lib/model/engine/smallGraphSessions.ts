/**
 * Sessions of the engine's small weightless graphs (kvOps.ts, featureOps.ts), opened on the engine's own provider: each
 * kind is built and opened on first use, kept until `release`, and a failed open is not kept, so the next use tries
 * again. Outputs can stay in device memory where the provider allows it (`outputsOnDevice`).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import { NO_WEIGHTS } from "@/lib/model/checkpoint/weightSource";
import type { GraphBuilder } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import type { SessionFactory } from "./executionProvider";

export class SmallGraphSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(private readonly factory: SessionFactory) {}

  /** The session of graph `id`, built by `build` on first use; its outputs on the device when `outputsOnDevice`. */
  get(id: string, build: () => GraphBuilder, outputsOnDevice: boolean): Promise<ort.InferenceSession> {
    let session = this.sessions.get(id);
    if (session === undefined) {
      session = this.open(build(), outputsOnDevice);
      session.catch(() => this.sessions.delete(id));
      this.sessions.set(id, session);
    }
    return session;
  }

  async release(): Promise<void> {
    const opened = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(opened.map(async (session) => (await session).release()));
  }

  private async open(g: GraphBuilder, outputsOnDevice: boolean): Promise<ort.InferenceSession> {
    const dir = await mkdtemp(path.join(tmpdir(), "vlcache-graph-"));
    try {
      const file = path.join(dir, "graph.onnx");
      await writeModel(g, file, NO_WEIGHTS);
      return await this.factory.open(file, {
        outputsOnDevice: outputsOnDevice ? g.parts().outputs.map((o) => o.name) : [],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
