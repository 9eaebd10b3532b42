import { labelStride, linearScale, niceTicks } from "@/lib/client/chartGeometry";
import { YGridlines } from "./YGridlines";

export interface BarGroup {
  label: string;
  values: number[];
}

const WIDTH = 560;
const HEIGHT = 200;
const MARGIN = { top: 8, right: 8, bottom: 28, left: 40 };
const LABEL_FONT_SIZE = 10;

/** Side-by-side bars per category (one color per series), y from zero. */
export function GroupedBarChart({ groups, colors, label }: { groups: BarGroup[]; colors: string[]; label: string }) {
  const max = Math.max(1, ...groups.flatMap((g) => g.values));
  const yTicks = niceTicks(0, max, 4);
  // Extend the axis to the first tick at or above the tallest bar, so the top gridline labels the scale.
  const step = yTicks.length > 1 ? yTicks[1] - yTicks[0] : max;
  if (yTicks[yTicks.length - 1] < max) yTicks.push(yTicks[yTicks.length - 1] + step);
  const top = yTicks[yTicks.length - 1];
  const y = linearScale([0, top], [HEIGHT - MARGIN.bottom, MARGIN.top]);
  const slot = (WIDTH - MARGIN.left - MARGIN.right) / Math.max(1, groups.length);
  const barWidth = Math.min(28, (slot * 0.8) / Math.max(1, colors.length));
  // Narrow slots label only every stride-th group; each bar's tooltip still names its group.
  const stride = labelStride(
    groups.map((g) => g.label),
    slot,
    LABEL_FONT_SIZE,
  );
  return (
    <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="h-auto w-full" role="img" aria-label={label}>
      <YGridlines ticks={yTicks} y={y} left={MARGIN.left} right={WIDTH - MARGIN.right} />
      {groups.map((group, gi) => {
        const center = MARGIN.left + slot * (gi + 0.5);
        const start = center - (barWidth * group.values.length) / 2;
        return (
          <g key={group.label}>
            {group.values.map((value, si) => (
              <rect
                key={si}
                x={start + si * barWidth}
                y={y(value)}
                width={barWidth - 2}
                height={y(0) - y(value)}
                fill={colors[si]}
              >
                <title>{`${group.label}: ${value}`}</title>
              </rect>
            ))}
            {gi % stride === 0 && (
              <text
                data-testid="x-label"
                x={center}
                y={HEIGHT - 10}
                textAnchor="middle"
                fontSize={LABEL_FONT_SIZE}
                className="fill-slate-600"
              >
                {group.label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
