import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import type { ParityContext } from "../types";
import { fixtureImageFeatures } from "./fixtureImages";

/**
 * The images a turn's prompt holds: all of `images_in_order` when its ids contain image tokens (turn1 and turn2 carry
 * the fixture's images, text_only none), else none.
 */
export async function turnImages(
  ctx: ParityContext,
  inputIds: readonly number[],
): Promise<{ grids: ImageGrid[]; images: ImageFeatures[] }> {
  const imageTokenId = (await ctx.engine()).config.imageTokenId;
  if (!inputIds.includes(imageTokenId)) return { grids: [], images: [] };
  const images = await fixtureImageFeatures(ctx);
  if (images === null)
    throw new Error("the prompt has image tokens but the fixture has no pixel values for images_in_order");
  return { grids: ctx.fixture.grids, images };
}
