/**
 * How long the most recently ended active sessions held their slot (activation → deletion): what
 * the queue's wait estimate averages over.
 */
export class SlotLifetimes {
  private readonly recentMs: number[] = [];

  constructor(private readonly keep = 50) {}

  remember(ms: number): void {
    this.recentMs.push(Math.max(0, ms));
    if (this.recentMs.length > this.keep) this.recentMs.shift();
  }

  /** The mean of the remembered lifetimes; null before any active session has ended. */
  meanMs(): number | null {
    if (this.recentMs.length === 0) return null;
    return this.recentMs.reduce((sum, ms) => sum + ms, 0) / this.recentMs.length;
  }
}
