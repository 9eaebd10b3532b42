/** Horizontal gridlines at the y ticks of a chart, each labelled left of the plot area. */
export function YGridlines({
  ticks,
  y,
  left,
  right,
  format = String,
}: {
  ticks: number[];
  /** Data value → SVG y coordinate. */
  y(value: number): number;
  /** x coordinates where the plot area starts and ends. */
  left: number;
  right: number;
  format?(value: number): string;
}) {
  return ticks.map((tick) => (
    <g key={tick}>
      <line x1={left} x2={right} y1={y(tick)} y2={y(tick)} className="stroke-slate-200" />
      <text x={left - 6} y={y(tick) + 4} textAnchor="end" fontSize="11" className="fill-slate-600">
        {format(tick)}
      </text>
    </g>
  ));
}
