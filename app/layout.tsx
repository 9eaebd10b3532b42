import type { Metadata } from "next";
import { headers } from "next/headers";
import { THEME_BOOT_SCRIPT } from "@/lib/client/theme";
import { nonceOfPolicy } from "@/lib/server/securityHeaders";
import "./globals.css";

// Every page is rendered per request: its scripts carry that request's CSP nonce (lib/server/securityHeaders.ts), which
// a page rendered once at build time could not.
export const dynamic = "force-dynamic";

export const metadata: Metadata = {
  title: "vlcache",
  description: "Chat about images with Qwen3-VL; repeated work is cached at every level.",
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // The theme script is the page's own inline script: it runs only with this request's nonce.
  const nonce = nonceOfPolicy((await headers()).get("content-security-policy"));
  return (
    // The theme script sets <html class="dark"> before hydration; React is told not to flag that difference.
    <html lang="en" suppressHydrationWarning>
      <head>
        <script nonce={nonce} dangerouslySetInnerHTML={{ __html: THEME_BOOT_SCRIPT }} />
      </head>
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased">{children}</body>
    </html>
  );
}
