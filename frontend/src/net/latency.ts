// A host's recent response times. Hedged requests and header timeouts adapt to them, so a
// slow school link gets patience and a fast one gets a quick second try.

/** The last few response-header latencies of one host. */
export class LatencyWindow {
  private readonly samples: number[] = [];

  constructor(private readonly size = 20) {}

  add(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > this.size) this.samples.shift();
  }

  /** The `p`-th percentile (0..1) of the recent samples, or null with fewer than `min`. */
  percentile(p: number, min = 3): number | null {
    if (this.samples.length < min) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
  }
}
