import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ParityContext } from "../types";

const encoded = new WeakMap<ParityContext, Promise<ImageFeatures[] | null>>();

/**
 * The engine's features for the fixture's `images_in_order` (one vision-encoder run over their concatenated pixel
 * values, as the reference did), computed once per parity run; null when the fixture has no images or no pixels.
 */
export function fixtureImageFeatures(ctx: ParityContext): Promise<ImageFeatures[] | null> {
  let result = encoded.get(ctx);
  if (!result) {
    result = (async () => {
      if (ctx.fixture.grids.length === 0) return null;
      const pixels = await ctx.fixture.pixelValuesInOrder();
      if (pixels === null) return null;
      return (await ctx.engine()).encodeImages(pixels, ctx.fixture.grids);
    })();
    encoded.set(ctx, result);
  }
  return result;
}
