"use client";

import { useId, useState } from "react";
import { parseSettingInput, SETTING_LIMITS, type NumericSetting } from "@/lib/client/generationSettings";

/**
 * A numeric field that commits on blur or Enter: what was typed is checked, clamped into range and stored; text that
 * is not a number is kept in the field with a message until corrected.
 */
export function NumberSetting({
  setting,
  label,
  value,
  placeholder,
  onCommit,
}: {
  setting: NumericSetting;
  label: string;
  value: number | null;
  placeholder?: string;
  onCommit(value: number | null): void;
}) {
  const id = useId();
  // null while not editing: the field shows the stored value.
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const limit = SETTING_LIMITS[setting];

  const commit = () => {
    if (editing === null) return;
    const parsed = parseSettingInput(setting, editing);
    if (!parsed.ok) {
      setError(parsed.message);
      return;
    }
    onCommit(parsed.value);
    setEditing(null);
    setError(null);
  };

  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-xs font-medium text-slate-600">
        {label}
      </label>
      <input
        id={id}
        type="number"
        inputMode={limit.integer ? "numeric" : "decimal"}
        min={limit.min}
        max={limit.max}
        step={limit.step}
        value={editing ?? (value === null ? "" : String(value))}
        placeholder={placeholder}
        aria-invalid={error !== null}
        aria-describedby={error !== null ? `${id}-error` : undefined}
        onChange={(event) => setEditing(event.target.value)}
        onBlur={commit}
        onKeyDown={(event) => {
          if (event.key === "Enter") commit();
        }}
        className="w-full rounded-md border border-slate-300 px-2 py-1 text-sm aria-[invalid=true]:border-red-500"
      />
      {error !== null && (
        <p id={`${id}-error`} className="text-xs text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}
