/** Runs a task every `intervalMs` until stopped; the timer never keeps the process alive. */
export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly task: () => void) {}

  /** (Re)starts with `intervalMs`; 0 or less stops it. */
  start(intervalMs: number): void {
    this.stop();
    if (intervalMs <= 0) return;
    this.timer = setInterval(this.task, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
