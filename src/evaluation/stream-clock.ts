/**
 * The wall-clock origin of a stream, for computation-aware delays. The origin is when the first
 * audio frame *began*: its receipt time minus its duration. A live client captures a frame
 * before sending it, so measuring from receipt would make a unit look up to one frame faster
 * than the audio it depends on (CA delay below NCA delay); SimulEval likewise starts its clock
 * before the first source segment is read.
 */
export class StreamClock {
  private originMs: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Records an audio frame arriving now; only the first one (since reset) sets the origin. */
  markAudio(frameDurationMs: number): void {
    if (this.originMs === undefined) this.originMs = this.now() - Math.max(0, frameDurationMs);
  }

  get hasStarted(): boolean {
    return this.originMs !== undefined;
  }

  /** Milliseconds since the origin (0 before the first frame). */
  elapsedMs(): number {
    return this.originMs === undefined ? 0 : this.now() - this.originMs;
  }

  /** Forgets the origin: the next frame starts a new stream (after a translation reset). */
  reset(): void {
    this.originMs = undefined;
  }
}
