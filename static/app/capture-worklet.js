/**
 * AudioWorklet processor "infinisst-capture": mixes its input down to mono, resamples it to
 * 16 kHz and posts blocks of about 100 ms (plus their peak level) to the page. Resampling here,
 * on the audio thread, keeps the main thread free and loses nothing when it is busy.
 */
import { StreamResampler } from './resampler.js';

const OUTPUT_RATE_HZ = 16000;
const BLOCK_SAMPLES = 1600;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = new StreamResampler(sampleRate, OUTPUT_RATE_HZ);
    this.block = new Float32Array(BLOCK_SAMPLES);
    this.blockLength = 0;
    this.peak = 0;
    this.mono = new Float32Array(128);
    this.port.onmessage = (event) => {
      if (event.data?.type === 'flush') {
        this.append(this.resampler.flush());
        this.post();
        // A fresh converter: the next capture is a new stream (no tail of the old one).
        this.resampler = new StreamResampler(sampleRate, OUTPUT_RATE_HZ);
        this.port.postMessage({ type: 'flushed', id: event.data.id });
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // nothing connected (e.g. paused media)
    const frames = channels[0].length;
    if (this.mono.length !== frames) this.mono = new Float32Array(frames);
    const mono = this.mono;
    mono.fill(0);
    for (const channel of channels) for (let i = 0; i < frames; i++) mono[i] += channel[i];
    const scale = 1 / channels.length;
    for (let i = 0; i < frames; i++) {
      mono[i] *= scale;
      const magnitude = Math.abs(mono[i]);
      if (magnitude > this.peak) this.peak = magnitude;
    }
    this.append(this.resampler.process(mono));
    return true;
  }

  append(samples) {
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(samples.length - offset, BLOCK_SAMPLES - this.blockLength);
      this.block.set(samples.subarray(offset, offset + take), this.blockLength);
      this.blockLength += take;
      offset += take;
      if (this.blockLength === BLOCK_SAMPLES) this.post();
    }
  }

  post() {
    if (this.blockLength === 0) return;
    const samples = this.block.slice(0, this.blockLength);
    this.port.postMessage({ type: 'samples', samples, peak: this.peak }, [samples.buffer]);
    this.blockLength = 0;
    this.peak = 0;
  }
}

registerProcessor('infinisst-capture', CaptureProcessor);
