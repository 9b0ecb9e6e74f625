/**
 * Deterministic random numbers for weight initialisation. Every weight tensor gets its own stream
 * seeded from `<package>/<tensor name>`, so adding or reordering a tensor never changes the others
 * and regenerating a package is byte-identical. No Math.random, no clock.
 */

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit seed. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** mulberry32: a tiny 32-bit PRNG with good enough statistics for random weights. */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  nextUniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Standard normal samples by the Box–Muller transform (both outputs of each pair are used). */
export class NormalSampler {
  private spare: number | undefined;

  constructor(private readonly uniform: Mulberry32) {}

  next(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    // 1 - u is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform.nextUniform()));
    const angle = 2 * Math.PI * this.uniform.nextUniform();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

/** `count` samples of N(0, std²) from the stream named `streamName`, rounded to float32. */
export function normalArray(streamName: string, count: number, std: number): Float32Array {
  const sampler = new NormalSampler(new Mulberry32(hashSeed(streamName)));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 1) out[i] = sampler.next() * std;
  return out;
}
