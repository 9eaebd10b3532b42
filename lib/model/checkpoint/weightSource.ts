/**
 * Read access to a checkpoint's tensors by transformers' names (`model.language_model.layers.0.mlp.up_proj.weight`).
 * Implementations read one tensor per call and keep nothing cached, so a converter holds at most one tensor (plus its
 * converted copy) in memory at a time, whatever the checkpoint's size.
 */
export interface WeightSource {
  has(name: string): boolean;
  /** Shape as stored in the checkpoint, e.g. a Linear weight is `[out, in]`. */
  shape(name: string): number[];
  /** Values widened to fp32, whatever the stored dtype (BF16, F16, F32). */
  read(name: string): Promise<Float32Array>;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class MissingTensorError extends Error {
  readonly code = "missing_tensor";
  constructor(
    readonly tensorName: string,
    where: string,
  ) {
    super(`tensor "${tensorName}" is not in ${where}`);
    this.name = "MissingTensorError";
  }
}

/** The weights of a graph that holds none (the engine's small graphs, test graphs): asked for a tensor, it is a bug. */
export const NO_WEIGHTS: WeightSource = {
  has: () => false,
  shape: (name) => {
    throw new MissingTensorError(name, "a graph built without weights");
  },
  read: (name) => Promise.reject(new MissingTensorError(name, "a graph built without weights")),
};
