"use client";

import Link from "next/link";
import { useStore } from "zustand";
import type { HealthResponse, StoreMode } from "@/lib/api/types";
import { healthStore } from "@/lib/client/stores/healthStore";
import { DEMO_MODEL_DESCRIPTION, DEMO_MODEL_NAME } from "@/lib/demoModel/identity";
import { ThemePicker } from "./ThemePicker";

const STORE_LABEL: Record<StoreMode, string> = {
  external: "Redis (external)",
  embedded: "Redis (embedded)",
  memory: "in-process memory",
};

const chip = "rounded-full border px-2 py-0.5 text-xs whitespace-nowrap";

function ServerChips({ health }: { health: HealthResponse }) {
  const { model, redis } = health;
  return (
    <>
      {model === null ? (
        <span data-testid="header-model" className={`${chip} border-slate-300 text-slate-600`}>
          no model loaded
        </span>
      ) : (
        <>
          <span
            data-testid="header-model"
            className={`${chip} border-slate-300 font-medium text-slate-800`}
            title="Model"
          >
            {model.name}
          </span>
          {model.name === DEMO_MODEL_NAME && (
            <span
              data-testid="header-demo-model"
              className={`${chip} border-sky-300 bg-sky-50 text-sky-800`}
              title="Answers questions about shapes, charts, signs and dialog screenshots"
            >
              {DEMO_MODEL_DESCRIPTION}
            </span>
          )}
          {model.isRandomTestModel && (
            <span
              className={`${chip} border-amber-300 bg-amber-50 text-amber-800`}
              title="Random weights: answers are gibberish by design"
            >
              random test model
            </span>
          )}
          <span
            data-testid="header-provider"
            className={`${chip} border-slate-300 text-slate-700`}
            title="onnxruntime execution provider"
          >
            {model.executionProvider.toUpperCase()}
          </span>
        </>
      )}
      <span
        data-testid="header-redis"
        data-healthy={redis.healthy}
        title="Where cache entries are stored"
        className={`${chip} ${redis.healthy ? "border-emerald-300 bg-emerald-50 text-emerald-800" : "border-red-300 bg-red-50 text-red-800"}`}
      >
        {STORE_LABEL[redis.mode]} {redis.healthy ? "✓" : "unreachable"}
      </span>
    </>
  );
}

/** App name, navigation, and what the server runs (from GET /api/health). */
export function Header({ current }: { current: "chat" | "metrics" }) {
  const connection = useStore(healthStore, (state) => state.connection);
  const navLink = (href: string, label: string, active: boolean) => (
    <Link
      href={href}
      aria-current={active ? "page" : undefined}
      className={`rounded-md px-2.5 py-1 text-sm ${active ? "bg-slate-900 text-white" : "text-slate-700 hover:bg-slate-200"}`}
    >
      {label}
    </Link>
  );
  return (
    <header className="flex flex-wrap items-center gap-x-4 gap-y-1 border-b border-slate-200 bg-white px-3 py-2 sm:px-4">
      <h1 className="text-lg font-semibold tracking-tight">vlcache</h1>
      <nav aria-label="Pages" className="flex gap-1">
        {navLink("/", "Chat", current === "chat")}
        {navLink("/metrics", "Metrics", current === "metrics")}
      </nav>
      <div
        className="order-last flex w-full flex-wrap items-center gap-1.5 sm:order-none sm:ml-auto sm:w-auto"
        role="group"
        aria-label="Server"
      >
        {connection.state === "up" && <ServerChips health={connection.health} />}
        {connection.state === "connecting" && (
          <span className={`${chip} border-slate-300 text-slate-500`}>connecting…</span>
        )}
        {connection.state === "down" && (
          <span data-testid="header-offline" className={`${chip} border-red-300 bg-red-50 text-red-800`}>
            {connection.answered ? "health check failed" : "server unreachable"}
          </span>
        )}
      </div>
      <div className="ml-auto sm:ml-0">
        <ThemePicker />
      </div>
    </header>
  );
}
