import { ChatWorkbench } from "@/components/layout/ChatWorkbench";
import { loadConfig } from "@/lib/config";
import { parseExamplesManifest } from "@/lib/client/examples";
import examplesManifest from "@/public/examples/examples.json";

// Rendered per request so the limits shown are the running server's configuration, not the build machine's.
export const dynamic = "force-dynamic";

const examples = parseExamplesManifest(examplesManifest);

export default function HomePage() {
  const { maxUploadBytes, maxImagePixels } = loadConfig();
  return <ChatWorkbench examples={examples} uploadLimits={{ maxUploadBytes, maxImagePixels }} />;
}
