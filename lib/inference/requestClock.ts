import type { GenerationTimings } from "./events";

/**
 * The timings of one request, measured on a monotonic clock from the moment the pipeline received it.
 * Durations of repeated phases (preprocessing and vision encoding run once per image) add up.
 */
export class RequestClock {
  private readonly startedAt: number;
  private queueMs = 0;
  private preprocessMs = 0;
  private visionMs = 0;
  private prefillMs = 0;
  private firstTokenAt: number | null = null;
  private lastTokenAt: number | null = null;
  private tokens = 0;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.startedAt = now();
  }

  /** Call when the request got its engine slot; the time since admission counts as queueing. */
  slotGranted(admittedAt: number): void {
    this.queueMs = this.now() - admittedAt;
  }

  time(): number {
    return this.now();
  }

  addPreprocess(ms: number): void {
    this.preprocessMs += ms;
  }

  addVision(ms: number): void {
    this.visionMs += ms;
  }

  addPrefill(ms: number): void {
    this.prefillMs += ms;
  }

  tokenGenerated(): void {
    const at = this.now();
    this.firstTokenAt ??= at;
    this.lastTokenAt = at;
    this.tokens++;
  }

  timings(): GenerationTimings {
    const decodeSeconds =
      this.firstTokenAt !== null && this.lastTokenAt !== null ? (this.lastTokenAt - this.firstTokenAt) / 1000 : 0;
    return {
      queueMs: this.queueMs,
      preprocessMs: this.preprocessMs,
      visionMs: this.visionMs,
      prefillMs: this.prefillMs,
      ttftMs: this.firstTokenAt === null ? null : this.firstTokenAt - this.startedAt,
      totalMs: this.now() - this.startedAt,
      decodeTokensPerSecond: this.tokens > 1 && decodeSeconds > 0 ? (this.tokens - 1) / decodeSeconds : 0,
    };
  }
}
