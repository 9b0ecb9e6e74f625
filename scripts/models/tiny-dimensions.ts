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

export const decoderDims = {
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 4,
  headDim: 16,
  mlpDim: 128,
  maxCacheTokens: 1000,
  queryGain: 3,
  outputGain: 2,
} as const;
