import type { Metadata } from "next";
import { ConnectionBanner } from "@/components/layout/ConnectionBanner";
import { Header } from "@/components/layout/Header";
import { MetricsDashboard } from "@/components/metrics/MetricsDashboard";

export const metadata: Metadata = { title: "vlcache · metrics" };

export default function MetricsPage() {
  return (
    <div className="min-h-screen">
      <Header current="metrics" />
      <ConnectionBanner />
      <main className="mx-auto max-w-6xl p-4">
        <MetricsDashboard />
      </main>
    </div>
  );
}
