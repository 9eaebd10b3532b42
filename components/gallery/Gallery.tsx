"use client";

import { useStore } from "zustand";
import { galleryStore } from "@/lib/client/stores/galleryStore";
import { GalleryItem } from "./GalleryItem";

/** Every image of this session, newest first; any of them can be attached to the next question. */
export function Gallery() {
  const images = useStore(galleryStore, (state) => state.images);
  return (
    <section aria-labelledby="gallery-heading" className="space-y-2">
      <h2 id="gallery-heading" className="text-sm font-semibold text-slate-700">
        Gallery
      </h2>
      {images.length === 0 ? (
        <p className="text-sm text-slate-500">Images you upload in this session appear here.</p>
      ) : (
        <ul data-testid="gallery" className="space-y-2">
          {images.map((image) => (
            <GalleryItem key={image.imageId} image={image} />
          ))}
        </ul>
      )}
    </section>
  );
}
