/**
 * Cuts a stream of 16 kHz samples into fixed-size frames (15 360 × latency multiplier samples).
 * A new size applies from the next frame; `finish` pads the last partial frame with silence so
 * every frame the server sees has the size the original page sent.
 */
export class Framer {
  /** @param {number} frameSamples @param {(frame: Float32Array) => void} onFrame */
  constructor(frameSamples, onFrame) {
    this.onFrame = onFrame;
    this.frameSamples = frameSamples;
    this.pending = new Float32Array(frameSamples);
    this.pendingLength = 0;
    /** Real (unpadded) samples accepted so far: the position on the audio timeline. */
    this.totalSamples = 0;
  }

  setFrameSamples(frameSamples) {
    if (!Number.isInteger(frameSamples) || frameSamples <= 0) throw new RangeError('frame size must be a positive integer');
    this.frameSamples = frameSamples;
    if (this.pending.length < frameSamples) {
      const grown = new Float32Array(frameSamples);
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.emitFull();
  }

  get bufferedSamples() {
    return this.pendingLength;
  }

  push(samples) {
    this.totalSamples += samples.length;
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(samples.length - offset, this.pending.length - this.pendingLength);
      this.pending.set(samples.subarray(offset, offset + take), this.pendingLength);
      this.pendingLength += take;
      offset += take;
      this.emitFull();
      if (take === 0) break;
    }
  }

  /** Emits the partial frame, zero-padded to the full size; no-op when nothing is pending. */
  finish() {
    if (this.pendingLength === 0) return false;
    const frame = new Float32Array(this.frameSamples);
    frame.set(this.pending.subarray(0, Math.min(this.pendingLength, this.frameSamples)));
    this.pendingLength = 0;
    this.onFrame(frame);
    return true;
  }

  /** Drops pending audio (after a reset). */
  clear() {
    this.pendingLength = 0;
  }

  emitFull() {
    while (this.pendingLength >= this.frameSamples) {
      const frame = this.pending.slice(0, this.frameSamples);
      this.pending.copyWithin(0, this.frameSamples, this.pendingLength);
      this.pendingLength -= this.frameSamples;
      this.onFrame(frame);
    }
    if (this.pending.length > this.frameSamples && this.pendingLength <= this.frameSamples) {
      const shrunk = new Float32Array(this.frameSamples);
      shrunk.set(this.pending.subarray(0, this.pendingLength));
      this.pending = shrunk;
    }
  }
}
