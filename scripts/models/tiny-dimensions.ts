/**
 * The dimensions of the embedded tiny models, shared by the graph builders and the manifest so
 * the two cannot disagree. Small, but shaped like InfiniSST: 20 ms encoder frames, 48-frame
 * blocks, a ×4 length shrink, and a Llama-style decoder.
 */
export const SAMPLE_RATE_HZ = 16000;
export const BASE_SEGMENT_MS = 960;
export const MAX_LATENCY_MULTIPLIER = 4;

export const encoderDims = {
  samplesPerFrame: 320,
  framesPerSegment: 48,
  shrinkFactor: 4,
  embeddingsPerSegment: 12,
  /** Width of the in-graph filterbank, which is also the encoder's model width. */
  modelDim: 32,
  numLayers: 1,
  numHeads: 2,
  headDim: 16,
  mlpDim: 64,
  maxCacheFrames: 576,
  /** Init gains (see AttentionParams): sharper attention keeps the output sensitive to the audio. */
  queryGain: 2,
  outputGain: 1.5,
} as const;

/**
 * Production-like in its ratios, not its size: grouped-query attention (12 query heads share 3 KV
 * heads, factor 4 as in Llama-3-8B) and a gated MLP ~2.7x the width. A layer's weights
 * (~390K floats) weigh as much as ~4K cached tokens (96 floats each), i.e. ~4 rows at the full
 * 1000-token window (Llama-3-8B: ~100 rows; the previous 64-wide MHA shape: < 1 row). Batching
 * rows therefore shares a real amount of weight traffic, as it does on real models.
 */
export const decoderDims = {
  hiddenSize: 192,
  numLayers: 2,
  numHeads: 12,
  numKeyValueHeads: 3,
  headDim: 16,
  mlpDim: 512,
  maxCacheTokens: 1000,
  queryGain: 3,
  outputGain: 2,
} as const;
