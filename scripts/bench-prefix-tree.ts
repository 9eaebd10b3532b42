/**
 * npx tsx scripts/bench-prefix-tree.ts [--nodes 100000] [--namespaces 100] [--ops 300] [--policy lru|lfu|fifo] [--label NAME]
 *
 * The cost of L2 eviction (lib/cache/prefixTree.ts) in a full tree: `--nodes` stored edges spread over `--namespaces`
 * namespaces (each a shared 16-token system prompt with 4-token branches under it), values of 1 byte per token and a
 * budget that the tree fills exactly, so every further insert evicts one leaf. Cases, each timed per operation:
 *   insert + evict  an insert of a new 4-token branch that pushes the tree over budget (one budget eviction)
 *   evict(1 leaf)   a direct `evict` of one leaf's bytes
 *   match (hit)     a prefix look-up of a stored branch (the work every request does, for scale)
 * Prints a table (median and p90 in µs) and writes bench/results/prefix-tree-<label>-<time>.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  firstInFirstOut,
  leastFrequentlyUsed,
  leastRecentlyUsed,
  type EvictionPolicy,
} from "@/lib/cache/evictionPolicy";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import { PrefixTree, type SegmentValue } from "@/lib/cache/prefixTree";
import { line, median } from "./benchSupport";

const SYSTEM_PROMPT_TOKENS = 16;
const BRANCH_TOKENS = 4;

/** A value of `length` positions at one byte each: the tree's bookkeeping is what is measured, not the values. */
class ByteSegment implements SegmentValue<ByteSegment> {
  constructor(readonly length: number) {}
  get bytes(): number {
    return this.length;
  }
  split(at: number): readonly [ByteSegment, ByteSegment] {
    return [new ByteSegment(at), new ByteSegment(this.length - at)];
  }
}

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "100000" },
    namespaces: { type: "string", default: "100" },
    ops: { type: "string", default: "300" },
    label: { type: "string", default: "current" },
    policy: { type: "string", default: "lru" },
  },
});
const POLICIES: Record<string, EvictionPolicy> = {
  lru: leastRecentlyUsed,
  lfu: leastFrequentlyUsed,
  fifo: firstInFirstOut,
};
const evictionPolicy = POLICIES[values.policy];
if (evictionPolicy === undefined) throw new Error(`--policy must be one of ${Object.keys(POLICIES).join(", ")}`);
const nodes = Number(values.nodes);
const namespaceCount = Number(values.namespaces);
const ops = Number(values.ops);
const branchesPerNamespace = Math.floor(nodes / namespaceCount) - 1;

const namespaceName = (n: number) => `vlc:v1:bench:l2:${n.toString(16).padStart(16, "0")}`;
const systemPrompt: PrefixKey = Array.from({ length: SYSTEM_PROMPT_TOKENS }, (_, i) => i + 1);
/** Branch `b` of a namespace: the system prompt, then four tokens no other branch starts with. */
const branchKey = (b: number): PrefixKey => [...systemPrompt, 100_000 + b, 1, 2, 3];

function buildFullTree(): { tree: PrefixTree<ByteSegment>; storedBytes: number } {
  const storedBytes = namespaceCount * (SYSTEM_PROMPT_TOKENS + branchesPerNamespace * BRANCH_TOKENS);
  const tree = new PrefixTree<ByteSegment>({ budgetBytes: storedBytes, evictionPolicy });
  for (let n = 0; n < namespaceCount; n++) {
    for (let b = 0; b < branchesPerNamespace; b++)
      tree.insert(namespaceName(n), branchKey(b), (start, end) => new ByteSegment(end - start));
  }
  if (tree.totalBytes !== storedBytes) throw new Error(`tree holds ${tree.totalBytes} bytes, expected ${storedBytes}`);
  return { tree, storedBytes };
}

function timeEach(count: number, run: (i: number) => void): number[] {
  const micros: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    run(i);
    micros.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return micros;
}

const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

async function main(): Promise<void> {
  const buildStart = performance.now();
  const { tree } = buildFullTree();
  line(
    `built ${tree.nodeCount} nodes in ${namespaceCount} namespaces (eviction policy ${evictionPolicy.name}) in ${(performance.now() - buildStart).toFixed(0)} ms`,
  );

  const cases: { label: string; micros: number[] }[] = [];
  let next = branchesPerNamespace;
  cases.push({
    label: "insert + evict",
    micros: timeEach(ops, (i) => {
      const before = tree.nodeCount;
      tree.insert(namespaceName(i % namespaceCount), branchKey(next++), (start, end) => new ByteSegment(end - start));
      if (tree.nodeCount !== before) throw new Error("an insert over budget must evict exactly one leaf");
    }),
  });
  cases.push({
    label: "evict(1 leaf)",
    micros: timeEach(ops, () => {
      if (tree.evict(BRANCH_TOKENS) !== BRANCH_TOKENS) throw new Error("evict freed the wrong number of bytes");
    }),
  });
  cases.push({
    label: "match (hit)",
    micros: timeEach(ops, (i) => {
      const key = branchKey(next - 1 - (i % 50));
      if (tree.matchPrefix(namespaceName((next - 1 - (i % 50)) % namespaceCount), key).length === 0)
        throw new Error("a stored branch did not match");
    }),
  });

  line("");
  line(`${"case".padEnd(16)} |   nodes | ops | median µs |  p90 µs`);
  for (const c of cases) {
    line(
      `${c.label.padEnd(16)} | ${String(nodes).padStart(7)} | ${String(ops).padStart(3)} | ${median(c.micros).toFixed(1).padStart(9)} | ${p90(c.micros).toFixed(1).padStart(7)}`,
    );
  }
  const out = {
    date: new Date().toISOString(),
    label: values.label,
    policy: evictionPolicy.name,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "unknown", node: process.version },
    nodes,
    namespaces: namespaceCount,
    ops,
    rows: cases.map((c) => ({ case: c.label, medianUs: median(c.micros), p90Us: p90(c.micros) })),
  };
  await mkdir("bench/results", { recursive: true });
  const resultFile = path.join("bench/results", `prefix-tree-${values.label}-${out.date.replace(/[:.]/g, "-")}.json`);
  await writeFile(resultFile, JSON.stringify(out, null, 2) + "\n");
  line(`\nwrote ${resultFile}`);
}

await main();
