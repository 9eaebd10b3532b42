/**
 * A line icon on the 24×24 grid, drawn in the text colour (so it follows the theme) and hidden from assistive
 * technology: the button around it carries the accessible name. `children` are its shapes (paths, rects).
 */
export function StrokeIcon({ size, children }: { size: "sm" | "md"; children: React.ReactNode }) {
  return (
    <svg
      viewBox="0 0 24 24"
      aria-hidden="true"
      className={size === "sm" ? "h-4 w-4" : "h-5 w-5"}
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      {children}
    </svg>
  );
}
