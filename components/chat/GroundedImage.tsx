"use client";

import { imageRawUrl } from "@/components/gallery/ImageThumbnail";
import { useImageName } from "@/components/gallery/useImageName";
import { boxPlacement, type GroundingBox } from "@/lib/client/grounding";
import type { ImageId } from "@/lib/ids";

const BOX_COLORS = ["#e11d48", "#2563eb", "#059669", "#d97706", "#7c3aed", "#0891b2"];

/**
 * The image a grounding answer talks about, with each box it named drawn over it and labelled. Boxes are placed in
 * percentages of the image (grounding.ts), so they stay on their objects at any displayed size.
 */
export function GroundedImage({ imageId, boxes }: { imageId: ImageId; boxes: GroundingBox[] }) {
  const name = useImageName(imageId);
  return (
    <figure className="mt-2" data-testid="grounded-image">
      <div className="relative inline-block max-w-full">
        <img
          src={imageRawUrl(imageId)}
          alt={`${name}, with the regions named in the answer`}
          className="block max-h-96 max-w-full rounded border border-slate-200"
        />
        {boxes.map((box, index) => {
          const place = boxPlacement(box);
          const color = BOX_COLORS[index % BOX_COLORS.length];
          return (
            <div
              key={index}
              data-testid="grounding-box"
              data-label={box.label}
              className="pointer-events-none absolute border-2"
              style={{
                left: `${place.leftPct}%`,
                top: `${place.topPct}%`,
                width: `${place.widthPct}%`,
                height: `${place.heightPct}%`,
                borderColor: color,
              }}
            >
              {box.label !== "" && (
                <span
                  className="absolute -top-5 left-0 max-w-[12rem] truncate rounded-sm px-1 text-xs leading-5 font-medium text-white"
                  style={{ background: color }}
                >
                  {box.label}
                </span>
              )}
            </div>
          );
        })}
      </div>
      <figcaption className="text-xs text-slate-600">
        {boxes.length} {boxes.length === 1 ? "region" : "regions"} from the answer, drawn over {name}
      </figcaption>
    </figure>
  );
}
