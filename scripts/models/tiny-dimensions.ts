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
export interface DecoderDims {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  mlpDim: number;
  maxCacheTokens: number;
  /** Init gains (see AttentionParams). */
  queryGain: number;
  outputGain: number;
}

export const decoderDims: Readonly<DecoderDims> = {
  hiddenSize: 192,
  numLayers: 2,
  numHeads: 12,
  numKeyValueHeads: 3,
  headDim: 16,
  mlpDim: 512,
  maxCacheTokens: 1000,
  queryGain: 3,
  outputGain: 2,
};

/**
 * The benchmark decoder (`npm run bench:engine -- --model bench`): a real decoder's shape scaled
 * down, 22.7 M parameters (91 MB of float32), so that its weights overflow the CPU's caches as an
 * 8B model's weights overflow a GPU's — batching rows then shares real weight traffic. Grouped-query
 * attention with 4 query heads per KV head and head dim 64 (Llama-3), gated MLP 2.75× the width.
 */
export const benchDecoderDims: Readonly<DecoderDims> = {
  hiddenSize: 512,
  numLayers: 8,
  numHeads: 8,
  numKeyValueHeads: 2,
  headDim: 64,
  mlpDim: 1408,
  maxCacheTokens: 1000,
  queryGain: 3,
  outputGain: 2,
};

/** Weights of a decoder with these dimensions and vocabulary (LM head included, embedding excluded). */
export function decoderParameterCount(dims: DecoderDims, vocabSize: number): number {
  const q = dims.numHeads * dims.headDim;
  const kv = dims.numKeyValueHeads * dims.headDim;
  const attention = dims.hiddenSize * (2 * q + 2 * kv);
  const mlp = 3 * dims.hiddenSize * dims.mlpDim;
  return dims.numLayers * (attention + mlp) + dims.hiddenSize * vocabSize;
}
