import { linePath, linearScale, niceTicks } from "@/lib/client/chartGeometry";
import { YGridlines } from "./YGridlines";

export interface LineSeries {
  name: string;
  color: string;
  points: { x: number; y: number | null }[];
}

const WIDTH = 560;
const HEIGHT = 200;
const MARGIN = { top: 8, right: 12, bottom: 24, left: 44 };

/** Lines over a shared x axis (time); null values leave gaps. The SVG scales to its container's width. */
export function LineChart({
  series,
  yDomain,
  formatY,
  formatX,
  label,
}: {
  series: LineSeries[];
  yDomain: [number, number];
  formatY(value: number): string;
  formatX(value: number): string;
  label: string;
}) {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xDomain: [number, number] = [Math.min(...xs), Math.max(...xs)];
  const x = linearScale(xDomain, [MARGIN.left, WIDTH - MARGIN.right]);
  const y = linearScale(yDomain, [HEIGHT - MARGIN.bottom, MARGIN.top]);
  const yTicks = niceTicks(yDomain[0], yDomain[1], 4);
  const xTicks = xDomain[0] === xDomain[1] ? [xDomain[0]] : [xDomain[0], (xDomain[0] + xDomain[1]) / 2, xDomain[1]];
  return (
    <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="h-auto w-full" role="img" aria-label={label}>
      <YGridlines ticks={yTicks} y={y} left={MARGIN.left} right={WIDTH - MARGIN.right} format={formatY} />
      {xTicks.map((tick, i) => (
        <text
          key={tick}
          x={x(tick)}
          y={HEIGHT - 6}
          textAnchor={i === 0 ? "start" : i === xTicks.length - 1 ? "end" : "middle"}
          fontSize="11"
          className="fill-slate-600"
        >
          {formatX(tick)}
        </text>
      ))}
      {series.map((s) => {
        const points = s.points.map((p) => ({ x: x(p.x), y: p.y === null ? null : y(p.y) }));
        // A lone point between gaps draws no line, so every point also gets a dot.
        return (
          <g key={s.name}>
            <path d={linePath(points)} fill="none" stroke={s.color} strokeWidth="2" strokeLinejoin="round" />
            {points.map((p, i) => (p.y === null ? null : <circle key={i} cx={p.x} cy={p.y} r="2" fill={s.color} />))}
          </g>
        );
      })}
    </svg>
  );
}
