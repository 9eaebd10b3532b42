/** One headline number with its label and an optional note below it. */
export function StatCard({
  label,
  value,
  note,
  testId,
}: {
  label: string;
  value: string;
  note?: string;
  testId: string;
}) {
  return (
    <div data-testid={testId} className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
      <p className="text-xs font-medium text-slate-500">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums text-slate-900">{value}</p>
      {note !== undefined && <p className="mt-0.5 text-xs text-slate-500">{note}</p>}
    </div>
  );
}
